/* Compiled (not run) as C99, C11 and C++17 with -Wall -Wextra -Werror -pedantic by the
 * header_* tests: the header must be clean in each, including when its declarations are used. */
#include "swiftws.h"

static int uses_the_header(void) {
    sws_status status = SWS_OK;
    const char *version = sws_version();
    return (int)status + (version != NULL) + sws_abi_version() + (sws_last_error() != NULL)
         + (sws_status_string(status) != NULL);
}

int main(void) {
    return uses_the_header() > 0 ? 0 : 1;
}
