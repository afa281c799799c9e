/*
 * Start/stop cycles for leak checking (run under valgrind by check_valgrind_cycles.sh):
 *
 *   lifecycle_cycles [CYCLES]   (default 1000)
 *
 * Each cycle starts a loop and a server, connects two clients, echoes one message on each,
 * then tears everything down -- alternately by a graceful server shutdown and by freeing the
 * loop with the connections still open -- and also runs a client whose connect fails. Whatever
 * a cycle allocates must be freed by its end: memory in use at exit must not grow with CYCLES.
 */
#include "swiftws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct counts { int opened, closed, messages, errors, done; };

static void on_open(sws_conn_t *conn, void *user_data) {
    struct counts *c = user_data;
    c->opened++;
    sws_conn_send_text(conn, "ping", 4, NULL);
}
static void on_message(sws_conn_t *conn, void *user_data, sws_message_kind kind, const uint8_t *data, size_t len) {
    (void)conn; (void)kind; (void)data; (void)len;
    ((struct counts *)user_data)->messages++;
}
static void echo(sws_conn_t *conn, void *user_data, sws_message_kind kind, const uint8_t *data, size_t len) {
    (void)user_data; (void)kind;
    sws_conn_send_text(conn, (const char *)data, len, NULL);
}
static void on_close(sws_conn_t *conn, void *user_data, uint16_t code, const char *reason, size_t len) {
    (void)conn; (void)code; (void)reason; (void)len;
    ((struct counts *)user_data)->closed++;
}
static void on_connect_error(void *user_data, sws_status status, int http_status, const char *message) {
    (void)status; (void)http_status; (void)message;
    ((struct counts *)user_data)->errors++;
}
static void shutdown_done(sws_server_t *server, void *user_data) {
    (void)server;
    ((struct counts *)user_data)->done = 1;
}

static int run_until(sws_loop_t *loop, const int *value, int target) {
    for (int i = 0; i < 2000 && *value < target; i++) sws_loop_run_once(loop, 10);
    return *value >= target;
}

int main(int argc, char **argv) {
    int cycles = argc > 1 ? atoi(argv[1]) : 1000;
    for (int cycle = 0; cycle < cycles; cycle++) {
        sws_loop_t *loop;
        if (sws_loop_new(&loop) != SWS_OK) return 1;
        struct counts server_counts = {0}, client_counts = {0}, failing = {0};
        sws_conn_handlers sh, ch;
        sws_conn_handlers_init(&sh);
        sh.on_message = echo;
        sh.on_close = on_close;
        sws_conn_handlers_init(&ch);
        ch.on_open = on_open;
        ch.on_message = on_message;
        ch.on_close = on_close;
        ch.on_connect_error = on_connect_error;
        sws_server_t *server;
        if (sws_server_new(loop, "127.0.0.1", 0, NULL, &sh, &server_counts, &server) != SWS_OK) return 1;
        char url[64];
        snprintf(url, sizeof url, "ws://127.0.0.1:%u/", (unsigned)sws_server_port(server));
        for (int i = 0; i < 2; i++) sws_client_connect(loop, url, NULL, &ch, &client_counts);
        sws_client_connect(loop, "ws://127.0.0.1:1/", NULL, &ch, &failing);
        if (!run_until(loop, &client_counts.messages, 2) || !run_until(loop, &failing.errors, 1)) {
            fprintf(stderr, "cycle %d: clients did not get their echo\n", cycle);
            return 1;
        }
        if (cycle % 2 == 0) {
            sws_server_shutdown(server, 1000, shutdown_done, &server_counts);
            if (!run_until(loop, &server_counts.done, 1) || !run_until(loop, &client_counts.closed, 2)) {
                fprintf(stderr, "cycle %d: shutdown did not complete\n", cycle);
                return 1;
            }
            sws_server_free(server);
            sws_loop_free(loop);
        } else {
            sws_loop_free(loop); /* connections still open: closed by the loop */
            sws_server_free(server);
            if (client_counts.closed != 2 || server_counts.closed != 2) {
                fprintf(stderr, "cycle %d: loop free did not close every connection\n", cycle);
                return 1;
            }
        }
    }
    printf("lifecycle_cycles: %d cycles\n", cycles);
    return 0;
}
