/*
 * echo_server — a WebSocket echo server on the SwiftWS C API.
 *
 *   echo_server [--host 127.0.0.1] [--port 9001] [--no-compression]
 *
 * Sends every message back as it came (text or binary). A text message "/close CODE [REASON]"
 * makes the server close the connection with that code instead. Prints "listening on PORT" once
 * ready (port 0 picks a free one), and stops cleanly on SIGINT/SIGTERM. permessage-deflate is
 * accepted with the library's defaults unless --no-compression is given.
 */
#include <swiftws.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_requested = 0;
static void on_signal(int signo) { (void)signo; stop_requested = 1; }

static void on_message(sws_conn_t *conn, void *user_data, sws_message_kind kind, const uint8_t *data, size_t len) {
    (void)user_data;
    if (kind == SWS_MESSAGE_TEXT && len >= 7 && memcmp(data, "/close ", 7) == 0) {
        char command[160];
        snprintf(command, sizeof command, "%.*s", (int)(len < 159 ? len : 159), (const char *)data);
        char *reason = NULL;
        long code = strtol(command + 7, &reason, 10);
        while (reason && *reason == ' ') reason++;
        if (sws_conn_close(conn, (uint16_t)code, reason, reason ? strlen(reason) : 0) != SWS_OK) {
            fprintf(stderr, "close %ld refused: %s\n", code, sws_last_error());
            sws_conn_close(conn, 1000, "bad close command", 17);
        }
        return;
    }
    sws_send_result result;
    sws_status status = kind == SWS_MESSAGE_TEXT ? sws_conn_send_text(conn, (const char *)data, len, &result)
                                                 : sws_conn_send_binary(conn, data, len, &result);
    if (status != SWS_OK) fprintf(stderr, "echo failed: %s\n", sws_last_error());
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = 9001;
    sws_compression_config compression;
    sws_compression_config_init(&compression);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) host = argv[++i];
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--no-compression") == 0) compression.enabled = false;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    sws_loop_t *loop;
    if (sws_loop_new(&loop) != SWS_OK) {
        fprintf(stderr, "sws_loop_new: %s\n", sws_last_error());
        return 1;
    }
    sws_conn_handlers handlers;
    sws_conn_handlers_init(&handlers);
    handlers.on_message = on_message;
    sws_connection_config connection;
    sws_connection_config_init(&connection);
    connection.compression = &compression;
    sws_server_config config;
    sws_server_config_init(&config);
    config.connection = &connection;
    sws_server_t *server;
    if (sws_server_new(loop, host, (uint16_t)port, &config, &handlers, NULL, &server) != SWS_OK) {
        fprintf(stderr, "sws_server_new: %s\n", sws_last_error());
        sws_loop_free(loop);
        return 1;
    }
    printf("listening on %u\n", (unsigned)sws_server_port(server));
    fflush(stdout);
    /* run_once with a timeout so that a signal is noticed within 100 ms. */
    while (!stop_requested) sws_loop_run_once(loop, 100);
    sws_server_free(server);
    sws_loop_free(loop);
    return 0;
}
