/*
 * chat_server — a chat server with rooms on the SwiftWS C API.
 *
 *   chat_server [--host 127.0.0.1] [--port 9002]
 *
 * A client joins the room named by its URL path (ws://host:port/lobby joins "lobby"). Each text
 * message is published to everyone else in the room (the frame is built once for all of them),
 * and "* N online" is broadcast to every client when someone joins or leaves. Prints
 * "listening on PORT" once ready; stops on SIGINT/SIGTERM after closing every connection (1001).
 */
#include <swiftws.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_requested = 0;
static void on_signal(int signo) { (void)signo; stop_requested = 1; }

static sws_server_t *server;
static int online = 0;

static void announce(void) {
    char text[64];
    int n = snprintf(text, sizeof text, "* %d online", online);
    sws_server_broadcast(server, SWS_MESSAGE_TEXT, text, (size_t)n, NULL, NULL);
}

static void on_open(sws_conn_t *conn, void *user_data) {
    (void)user_data;
    const char *path = "/";
    sws_conn_info(conn, &path, NULL, NULL);
    const char *room = path[1] ? path + 1 : "lobby";
    sws_conn_subscribe(conn, room);
    /* The room name lives as long as the connection: keep a copy as its user data. */
    sws_conn_set_user_data(conn, strdup(room));
    online++;
    announce();
}

static void on_message(sws_conn_t *conn, void *user_data, sws_message_kind kind, const uint8_t *data, size_t len) {
    const char *room = user_data;
    if (kind != SWS_MESSAGE_TEXT) return;
    sws_server_publish(server, room, SWS_MESSAGE_TEXT, data, len, conn, NULL);
}

static void on_close(sws_conn_t *conn, void *user_data, uint16_t code, const char *reason, size_t len) {
    (void)conn;
    (void)code;
    (void)reason;
    (void)len;
    free(user_data);
    online--;
    announce();
}

static void shutdown_done(sws_server_t *s, void *user_data) {
    (void)s;
    *(int *)user_data = 1;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = 9002;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--host") == 0) host = argv[i + 1];
        else if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    sws_loop_t *loop;
    if (sws_loop_new(&loop) != SWS_OK) return 1;
    sws_conn_handlers handlers;
    sws_conn_handlers_init(&handlers);
    handlers.on_open = on_open;
    handlers.on_message = on_message;
    handlers.on_close = on_close;
    if (sws_server_new(loop, host, (uint16_t)port, NULL, &handlers, NULL, &server) != SWS_OK) {
        fprintf(stderr, "sws_server_new: %s\n", sws_last_error());
        sws_loop_free(loop);
        return 1;
    }
    printf("listening on %u\n", (unsigned)sws_server_port(server));
    fflush(stdout);
    while (!stop_requested) sws_loop_run_once(loop, 100);

    int done = 0;
    sws_server_shutdown(server, 2000, shutdown_done, &done);
    while (!done) sws_loop_run_once(loop, 100);
    sws_server_free(server);
    sws_loop_free(loop);
    return 0;
}
