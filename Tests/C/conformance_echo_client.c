/*
 * conformance_echo_client — the client side of a conformance run (Tests/Conformance): connects to
 * the URL given, echoes every message it receives (text as text, binary as binary) from inside
 * on_message, and answers the server's close, as the Autobahn testsuite's echo clients do.
 *
 *   conformance_echo_client 'ws://127.0.0.1:9001/runCase?case=1&agent=swiftws-c'
 *
 * Exit status: 0 once the connection has closed (whatever the code: the server judges it), 1 if
 * it could not be opened. Default limits and permessage-deflate offer.
 */
#include <swiftws.h>

#include <stdio.h>
#include <string.h>

struct echo_state {
    sws_loop_t *loop;
    int exit_status;
};

static void on_message(sws_conn_t *conn, void *user_data, sws_message_kind kind, const uint8_t *data, size_t len) {
    (void)user_data;
    /* A refused echo (the connection is closing) is the server's to judge, not ours. */
    if (kind == SWS_MESSAGE_TEXT) (void)sws_conn_send_text(conn, (const char *)data, len, NULL);
    else (void)sws_conn_send_binary(conn, data, len, NULL);
}

static void on_close(sws_conn_t *conn, void *user_data, uint16_t code, const char *reason, size_t len) {
    (void)conn; (void)code; (void)reason; (void)len;
    struct echo_state *state = user_data;
    (void)sws_loop_stop(state->loop);
}

static void on_connect_error(void *user_data, sws_status status, int http_status, const char *message) {
    struct echo_state *state = user_data;
    fprintf(stderr, "cannot connect (%s, HTTP %d): %s\n", sws_status_string(status), http_status, message);
    state->exit_status = 1;
    (void)sws_loop_stop(state->loop);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s ws://host:port/path\n", argv[0]);
        return 64;
    }
    struct echo_state state = {NULL, 0};
    if (sws_loop_new(&state.loop) != SWS_OK) return 1;
    sws_conn_handlers handlers;
    sws_conn_handlers_init(&handlers);
    handlers.on_message = on_message;
    handlers.on_close = on_close;
    handlers.on_connect_error = on_connect_error;
    if (sws_client_connect(state.loop, argv[1], NULL, &handlers, &state) != SWS_OK) {
        fprintf(stderr, "%s\n", sws_last_error());
        sws_loop_free(state.loop);
        return 1;
    }
    (void)sws_loop_run(state.loop);
    sws_loop_free(state.loop);
    return state.exit_status;
}
