/*
 * client — sends the lines it reads from stdin to a WebSocket server and prints what arrives.
 *
 *   client ws://127.0.0.1:9001/
 *
 * Each line (without its newline) goes out as a text message; each message received is printed
 * as "< TEXT" (binary as "< [N bytes]"). At the end of stdin the client closes with 1000 and
 * prints "closed CODE REASON" when the close handshake completes. Exit status: 0 after a close
 * with 1000, 2 after another code, 1 if the connection could not be opened.
 *
 * It shows a program keeping its own loop: poll() watches stdin and sws_loop_fd(), and
 * sws_loop_run_once(loop, 0) runs SwiftWS when its descriptor is readable.
 */
#include <swiftws.h>

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct client_state {
    sws_conn_t *conn;
    bool opened, finished;
    int exit_status;
    char pending[65536];
    size_t pending_len;
};

static void on_open(sws_conn_t *conn, void *user_data) {
    struct client_state *state = user_data;
    state->conn = conn;
    state->opened = true;
    fprintf(stderr, "# connected, permessage-deflate %s\n", sws_conn_is_compressed(conn) ? "on" : "off");
}

static void on_message(sws_conn_t *conn, void *user_data, sws_message_kind kind, const uint8_t *data, size_t len) {
    (void)conn;
    (void)user_data;
    if (kind == SWS_MESSAGE_TEXT) printf("< %.*s\n", (int)len, (const char *)data);
    else printf("< [%zu bytes]\n", len);
    fflush(stdout);
}

static void on_close(sws_conn_t *conn, void *user_data, uint16_t code, const char *reason, size_t len) {
    (void)conn;
    struct client_state *state = user_data;
    printf("closed %u %.*s\n", (unsigned)code, (int)len, reason);
    fflush(stdout);
    state->conn = NULL;
    state->finished = true;
    state->exit_status = code == 1000 ? 0 : 2;
}

static void on_connect_error(void *user_data, sws_status status, int http_status, const char *message) {
    struct client_state *state = user_data;
    fprintf(stderr, "cannot connect (%s, HTTP %d): %s\n", sws_status_string(status), http_status, message);
    state->finished = true;
    state->exit_status = 1;
}

/* Sends every complete line in the pending buffer. */
static void send_lines(struct client_state *state) {
    char *start = state->pending;
    char *newline;
    while ((newline = memchr(start, '\n', state->pending_len - (size_t)(start - state->pending))) != NULL) {
        size_t len = (size_t)(newline - start);
        if (len > 0 && start[len - 1] == '\r') len--;
        if (sws_conn_send_text(state->conn, start, len, NULL) != SWS_OK) {
            fprintf(stderr, "send: %s\n", sws_last_error());
        }
        start = newline + 1;
    }
    size_t rest = state->pending_len - (size_t)(start - state->pending);
    memmove(state->pending, start, rest);
    state->pending_len = rest;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s ws://host:port/path\n", argv[0]);
        return 64;
    }
    sws_loop_t *loop;
    if (sws_loop_new(&loop) != SWS_OK) return 1;
    struct client_state state;
    memset(&state, 0, sizeof state);
    sws_conn_handlers handlers;
    sws_conn_handlers_init(&handlers);
    handlers.on_open = on_open;
    handlers.on_message = on_message;
    handlers.on_close = on_close;
    handlers.on_connect_error = on_connect_error;
    if (sws_client_connect(loop, argv[1], NULL, &handlers, &state) != SWS_OK) {
        fprintf(stderr, "%s\n", sws_last_error());
        sws_loop_free(loop);
        return 1;
    }

    bool stdin_open = true, close_sent = false;
    while (!state.finished) {
        struct pollfd fds[2] = {{sws_loop_fd(loop), POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
        /* Read stdin only once the connection is open. */
        nfds_t count = (state.opened && stdin_open) ? 2 : 1;
        poll(fds, count, 1000);
        if (count == 2 && (fds[1].revents & (POLLIN | POLLHUP))) {
            ssize_t n = read(STDIN_FILENO, state.pending + state.pending_len, sizeof state.pending - state.pending_len);
            if (n > 0) {
                state.pending_len += (size_t)n;
                if (state.conn) send_lines(&state);
            } else {
                stdin_open = false;
            }
        }
        if (!stdin_open && !close_sent && state.conn) {
            if (state.pending_len > 0) { /* a last line without a newline */
                sws_conn_send_text(state.conn, state.pending, state.pending_len, NULL);
                state.pending_len = 0;
            }
            sws_conn_close(state.conn, 1000, "end of input", 12);
            close_sent = true;
        }
        sws_loop_run_once(loop, 0);
    }
    sws_loop_free(loop);
    return state.exit_status;
}
