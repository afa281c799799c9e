/* An out-of-tree program built against an installed SwiftWS (pkg-config and find_package):
 * it checks the library it loaded is the one its header describes, then runs a client and a
 * server session against each other in memory and prints the message the server received. */
#include <swiftws.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char received[64];

static void on_text(sws_session_t *session, void *user_data, const char *data, size_t len) {
    (void)session;
    (void)user_data;
    snprintf(received, sizeof received, "%.*s", (int)len, data);
}

int main(void) {
    if (sws_abi_version() != SWS_ABI_VERSION) {
        fprintf(stderr, "ABI mismatch: library %d, header %d\n", sws_abi_version(), SWS_ABI_VERSION);
        return 1;
    }
    sws_session_callbacks callbacks;
    sws_session_callbacks_init(&callbacks);
    callbacks.on_text = on_text;
    sws_session_t *client = NULL, *server = NULL;
    if (sws_session_new(SWS_ROLE_CLIENT, NULL, NULL, NULL, &client) != SWS_OK ||
        sws_session_new(SWS_ROLE_SERVER, NULL, &callbacks, NULL, &server) != SWS_OK) {
        fprintf(stderr, "sws_session_new: %s\n", sws_last_error());
        return 1;
    }
    sws_session_send_text(client, "hello", 5);
    const uint8_t *out;
    size_t len;
    sws_session_pending_output(client, &out, &len);
    uint8_t *copy = malloc(len);
    memcpy(copy, out, len);
    sws_session_consume_output(client, len);
    sws_session_feed(server, copy, len);
    free(copy);
    sws_session_free(client);
    sws_session_free(server);
    printf("swiftws %s: server received \"%s\"\n", sws_version(), received);
    return strcmp(received, "hello") == 0 ? 0 : 1;
}
