/* Versioning and status codes: the header's macros agree with the library, every status has a
 * name, and sws_last_error() is "" before any failure. */
#include "swiftws.h"
#include "check.h"

#include <stdio.h>

int main(void) {
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", SWS_VERSION_MAJOR, SWS_VERSION_MINOR, SWS_VERSION_PATCH);
    CHECK_EQ_STR(sws_version(), expected);
    CHECK_EQ_INT(sws_abi_version(), SWS_ABI_VERSION);

    CHECK_EQ_STR(sws_status_string(SWS_OK), "ok");
    CHECK_EQ_STR(sws_status_string(SWS_ERR_INVALID_ARGUMENT), "invalid argument");
    CHECK_EQ_STR(sws_status_string(SWS_ERR_CLOSED), "closed");
    CHECK_EQ_STR(sws_status_string((sws_status)-999), "unknown status");
    CHECK_EQ_STR(sws_status_string((sws_status)1), "unknown status");
    for (int s = 0; s >= -12; s--) {
        const char *name = sws_status_string((sws_status)s);
        CHECK(name != NULL && strcmp(name, "unknown status") != 0 && name[0] != '\0');
    }
    CHECK_EQ_STR(sws_last_error(), "");
    return check_summary("version_test");
}
