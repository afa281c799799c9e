/*
 * Servers, client connections and connections through the C API, in one process on 127.0.0.1:
 * echo of text and binary, close codes both ways, the upgrade hook (accept with a subprotocol,
 * reject with a status), connect failures, broadcast and topics, thread-safe references and
 * loop posts from another thread, wrong-thread calls, and misuse; a wss:// echo (TLS).
 */
#include "swiftws.h"
#include "check.h"
#include "recorder.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* ---- Recording peers (recorder.h), with the checks every open connection must pass ---- */

/* record_open, plus what holds for any connection that just opened. */
static void checked_open(sws_conn_t *conn, void *user_data) {
    record_open(conn, user_data);
    sws_session_state state = SWS_SESSION_CLOSED;
    CHECK_EQ_INT(sws_conn_get_state(conn, &state), SWS_OK);
    CHECK_EQ_INT(state, SWS_SESSION_OPEN);
    /* Pausing and resuming at once changes nothing the peer can see. */
    CHECK_EQ_INT(sws_conn_pause_reading(conn), SWS_OK);
    CHECK_EQ_INT(sws_conn_resume_reading(conn), SWS_OK);
    sws_conn_counters counters;
    memset(&counters, 0xff, sizeof counters);
    counters.size = sizeof counters;
    CHECK_EQ_INT(sws_conn_get_counters(conn, &counters), SWS_OK);
    CHECK(counters.messages_received == 0 && counters.bytes_received == 0);
    counters.size = 1; /* not initialised */
    CHECK_EQ_INT(sws_conn_get_counters(conn, &counters), SWS_ERR_INVALID_ARGUMENT);
}

/* When set, record_refusal also keeps the refusal's response (head and body). */
static sws_loop_t *response_loop;
static char refusal_head[512], refusal_body[64];

static void record_refusal(void *user_data, sws_status status, int http_status, const char *message) {
    if (response_loop != NULL) {
        const uint8_t *head = NULL, *body = NULL;
        size_t head_len = 0, body_len = 0;
        sws_status got = sws_loop_connect_error_response(response_loop, &head, &head_len, &body, &body_len);
        CHECK_EQ_INT(got, http_status || status == SWS_ERR_HANDSHAKE ? SWS_OK : SWS_ERR_INVALID_ARGUMENT);
        snprintf(refusal_head, sizeof refusal_head, "%.*s", got == SWS_OK ? (int)head_len : 0, (const char *)head);
        snprintf(refusal_body, sizeof refusal_body, "%.*s", got == SWS_OK ? (int)body_len : 0, (const char *)body);
    }
    record_connect_error(user_data, status, http_status, message);
}

static sws_conn_handlers checked_handlers(void) {
    sws_conn_handlers h = recording_handlers();
    h.on_open = checked_open;
    h.on_connect_error = record_refusal;
    return h;
}

/* The server: echoes every message from inside on_message; counts opens and closes. */
static struct peer server_peer;

static sws_server_t *start_echo_server(sws_loop_t *loop, const sws_server_config *config,
                                       void (*on_upgrade)(sws_server_t *, void *, sws_request_t *)) {
    sws_conn_handlers h = checked_handlers();
    h.on_message = echo_message;
    h.on_upgrade = on_upgrade;
    sws_server_t *server = NULL;
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, config, &h, &server_peer, &server), SWS_OK);
    CHECK(sws_server_port(server) != 0);
    return server;
}

static void url_for(sws_server_t *server, const char *path, char *url, size_t size) {
    snprintf(url, size, "ws://127.0.0.1:%u%s", (unsigned)sws_server_port(server), path);
}

/* A TCP socket of this test's own, connected to 127.0.0.1:`port` (a raw peer). */
static int loopback_client(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_EQ_INT(connect(fd, (struct sockaddr *)&address, sizeof address), 0);
    return fd;
}

/* ---- Tests ---- */

static void choose_subprotocol(sws_server_t *server, void *user_data, sws_request_t *upgrade) {
    (void)server;
    CHECK(user_data == &server_peer);
    const char *target = NULL, *path = NULL, *token = NULL, *name = NULL;
    CHECK_EQ_INT(sws_request_target(upgrade, &target, &path), SWS_OK);
    CHECK_EQ_STR(path, "/echo");
    CHECK_EQ_INT(sws_request_header(upgrade, "x-token", &token), SWS_OK);
    if (token == NULL || strcmp(token, "secret") != 0) {
        CHECK_EQ_INT(sws_request_respond(upgrade, 403, "no token", 8), SWS_OK);
        CHECK_EQ_INT(sws_request_accept(upgrade, NULL, NULL), SWS_ERR_INVALID_ARGUMENT); /* decided already */
        return;
    }
    CHECK_EQ_INT(sws_request_subprotocol_count(upgrade), 2);
    CHECK_EQ_INT(sws_request_subprotocol(upgrade, 1, &name), SWS_OK);
    CHECK_EQ_STR(name, "chat.v1");
    CHECK_EQ_INT(sws_request_accept(upgrade, "not-offered", NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_request_accept(upgrade, "chat.v1", &server_peer), SWS_OK);
}

static sws_request_t *kept_upgrade;
static void keep_upgrade(sws_server_t *server, void *user_data, sws_request_t *upgrade) {
    (void)server;
    (void)user_data;
    kept_upgrade = upgrade; /* misuse: used after on_upgrade returns */
}

static void test_echo_and_close(void) {
    memset(&server_peer, 0, sizeof server_peer);
    sws_loop_t *loop = NULL;
    CHECK_EQ_INT(sws_loop_new(&loop), SWS_OK);
    sws_server_t *server = start_echo_server(loop, NULL, choose_subprotocol);

    static const char *const protocols[] = {"chat.v2", "chat.v1"};
    static const char *const names[] = {"X-Token"};
    static const char *const values[] = {"secret"};
    sws_client_config config;
    sws_client_config_init(&config);
    config.subprotocols = protocols;
    config.subprotocol_count = 2;
    config.header_names = names;
    config.header_values = values;
    config.header_count = 1;
    struct peer client;
    memset(&client, 0, sizeof client);
    sws_conn_handlers h = checked_handlers();
    char url[128];
    url_for(server, "/echo?room=1", url, sizeof url);
    CHECK_EQ_INT(sws_client_connect(loop, url, &config, &h, &client), SWS_OK);
    RUN_UNTIL(loop, client.opened == 1 && server_peer.opened == 1);
    CHECK_EQ_STR(client.subprotocol, "chat.v1");
    CHECK_EQ_STR(server_peer.subprotocol, "chat.v1");
    CHECK_EQ_STR(server_peer.path, "/echo");
    CHECK_EQ_STR(server_peer.query, "room=1");
    char address[64];
    CHECK_EQ_INT(sws_conn_remote_address(client.conn, address, sizeof address), SWS_OK);
    char expected_address[64];
    snprintf(expected_address, sizeof expected_address, "127.0.0.1:%u", (unsigned)sws_server_port(server));
    CHECK_EQ_STR(address, expected_address);
    CHECK_EQ_INT(sws_conn_remote_address(client.conn, address, 5), SWS_ERR_TOO_BIG);
    CHECK_EQ_INT(sws_conn_remote_address(client.conn, NULL, 64), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_connection_count(server), 1);
    CHECK(sws_conn_is_open(client.conn));
    CHECK(sws_conn_is_compressed(client.conn)); /* permessage-deflate on by default on both sides */
    CHECK(sws_conn_get_user_data(client.conn) == &client);

    sws_send_result result = SWS_SEND_DROPPED;
    CHECK_EQ_INT(sws_conn_send_text(client.conn, "h\xC3\xA9llo", 6, &result), SWS_OK);
    CHECK(result == SWS_SEND_SENT);
    RUN_UNTIL(loop, client.messages == 1);
    CHECK_EQ_INT(client.last_kind, SWS_MESSAGE_TEXT);
    CHECK_EQ_STR(client.last_text, "h\xC3\xA9llo");

    uint8_t blob[100000];
    for (size_t i = 0; i < sizeof blob; i++) blob[i] = (uint8_t)(i * 31);
    CHECK_EQ_INT(sws_conn_send_binary(client.conn, blob, sizeof blob, NULL), SWS_OK);
    RUN_UNTIL(loop, client.messages == 2);
    CHECK_EQ_INT(client.last_kind, SWS_MESSAGE_BINARY);
    CHECK_EQ_INT(client.last_len, sizeof blob);

    /* Fragments go out as one message. */
    CHECK_EQ_INT(sws_conn_send_fragment(client.conn, SWS_MESSAGE_TEXT, "ab\xC3", 3, false, NULL), SWS_OK);
    CHECK_EQ_INT(sws_conn_send_text(client.conn, "x", 1, NULL), SWS_ERR_INVALID_ARGUMENT); /* unfinished */
    CHECK_EQ_INT(sws_conn_send_fragment(client.conn, SWS_MESSAGE_BINARY, "x", 1, true, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_send_fragment(client.conn, SWS_MESSAGE_TEXT, "\x28", 1, true, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_send_fragment(client.conn, SWS_MESSAGE_TEXT, "\xA9", 1, false, NULL), SWS_OK); /* completes \xC3\xA9 */
    CHECK_EQ_INT(sws_conn_send_fragment(client.conn, SWS_MESSAGE_TEXT, "cd\xE2\x82", 4, true, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_send_fragment(client.conn, SWS_MESSAGE_TEXT, "cd", 2, true, NULL), SWS_OK);
    RUN_UNTIL(loop, client.messages == 3);
    CHECK_EQ_STR(client.last_text, "ab\xC3\xA9" "cd");

    /* Misuse while open. */
    CHECK_EQ_INT(sws_conn_send_text(client.conn, "\xC3\x28", 2, &result), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(result, SWS_SEND_DROPPED);
    CHECK_EQ_INT(sws_conn_send_ping(client.conn, blob, 126), SWS_ERR_TOO_BIG);
    CHECK_EQ_INT(sws_conn_close(client.conn, 1005, NULL, 0), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_subscribe(client.conn, "news"), SWS_ERR_INVALID_ARGUMENT); /* client side */

    CHECK_EQ_INT(sws_conn_close(client.conn, 4001, "done", 4), SWS_OK);
    CHECK_EQ_INT(sws_conn_close(client.conn, 1000, NULL, 0), SWS_ERR_CLOSED); /* double close */
    CHECK_EQ_INT(sws_conn_send_text(client.conn, "late", 4, &result), SWS_ERR_CLOSED);
    RUN_UNTIL(loop, client.closed == 1 && server_peer.closed == 1);
    CHECK_EQ_INT(client.close_code, 4001);
    CHECK_EQ_INT(server_peer.close_code, 4001);
    CHECK_EQ_STR(server_peer.close_reason, "done");
    /* The echo server received what the client sent and sent as much back. */
    CHECK(server_peer.counters.messages_received == (uint64_t)client.messages);
    CHECK(server_peer.counters.messages_sent == server_peer.counters.messages_received);
    CHECK(server_peer.counters.bytes_sent == server_peer.counters.bytes_received);
    CHECK(client.counters.messages_received == (uint64_t)client.messages);
    CHECK_EQ_INT(sws_server_connection_count(server), 0);

    /* A client with compression off gets an uncompressed connection. */
    sws_compression_config off;
    sws_compression_config_init(&off);
    off.enabled = false;
    sws_connection_config uncompressed;
    sws_connection_config_init(&uncompressed);
    uncompressed.compression = &off;
    sws_client_config_init(&config);
    config.connection = &uncompressed;
    config.subprotocols = protocols;
    config.subprotocol_count = 2;
    config.header_names = names;
    config.header_values = values;
    config.header_count = 1;
    struct peer plain_client;
    memset(&plain_client, 0, sizeof plain_client);
    url_for(server, "/echo", url, sizeof url);
    CHECK_EQ_INT(sws_client_connect(loop, url, &config, &h, &plain_client), SWS_OK);
    RUN_UNTIL(loop, plain_client.opened == 1);
    CHECK(!sws_conn_is_compressed(plain_client.conn));
    CHECK_EQ_INT(sws_conn_send_binary(plain_client.conn, blob, sizeof blob, NULL), SWS_OK);
    RUN_UNTIL(loop, plain_client.messages == 1);
    CHECK_EQ_INT(plain_client.last_len, sizeof blob);
    sws_conn_close(plain_client.conn, 1000, NULL, 0);
    RUN_UNTIL(loop, plain_client.closed == 1 && server_peer.closed == 2);
    /* A bad compression value fails the connect call. */
    off.memory_level = 10;
    CHECK_EQ_INT(sws_client_connect(loop, url, &config, &h, &plain_client), SWS_ERR_INVALID_ARGUMENT);

    /* The upgrade hook rejects a client without the token: the client sees 403. */
    struct peer rejected;
    memset(&rejected, 0, sizeof rejected);
    url_for(server, "/echo", url, sizeof url);
    CHECK_EQ_INT(sws_client_connect(loop, url, NULL, &h, &rejected), SWS_OK);
    RUN_UNTIL(loop, rejected.connect_errors == 1);
    CHECK_EQ_INT(rejected.connect_status, SWS_ERR_HANDSHAKE);
    CHECK_EQ_INT(rejected.connect_http_status, 403);
    CHECK_EQ_INT(rejected.opened, 0);

    CHECK_EQ_INT(sws_server_free(server), SWS_OK);
    CHECK_EQ_INT(sws_server_free(server), SWS_ERR_INVALID_ARGUMENT); /* double free */

    /* An upgrade handle kept past on_upgrade is refused, not dereferenced. */
    server = start_echo_server(loop, NULL, keep_upgrade);
    struct peer plain;
    memset(&plain, 0, sizeof plain);
    url_for(server, "/", url, sizeof url);
    sws_client_connect(loop, url, NULL, &h, &plain);
    RUN_UNTIL(loop, plain.opened == 1);
    const char *target;
    CHECK(kept_upgrade != NULL);
    CHECK_EQ_INT(sws_request_target(kept_upgrade, &target, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_request_accept(kept_upgrade, NULL, NULL), SWS_ERR_INVALID_ARGUMENT);

    /* A freed server stops listening, but its open connections keep working. */
    CHECK_EQ_INT(sws_server_free(server), SWS_OK);
    CHECK_EQ_INT(sws_conn_send_text(plain.conn, "still here", 10, NULL), SWS_OK);
    RUN_UNTIL(loop, plain.messages == 1);
    CHECK_EQ_STR(plain.last_text, "still here");
    struct peer late;
    memset(&late, 0, sizeof late);
    CHECK_EQ_INT(sws_client_connect(loop, url, NULL, &h, &late), SWS_OK);
    RUN_UNTIL(loop, late.connect_errors == 1);
    CHECK_EQ_INT(late.connect_status, SWS_ERR_IO);

    /* Freeing the loop closes what is left: on_close runs with 1006. */
    CHECK_EQ_INT(sws_loop_free(loop), SWS_OK);
    CHECK_EQ_INT(plain.closed, 1);
    CHECK_EQ_INT(plain.close_code, SWS_CLOSE_ABNORMAL);
    CHECK_EQ_INT(sws_loop_free(loop), SWS_ERR_INVALID_ARGUMENT); /* double free */
}

static void test_connect_failures(void) {
    sws_loop_t *loop = NULL;
    CHECK_EQ_INT(sws_loop_new(&loop), SWS_OK);
    sws_conn_handlers h = checked_handlers();
    struct peer p;
    memset(&p, 0, sizeof p);

    /* Bad URLs fail the call; no callback runs. */
    const char *bad[] = {"http://127.0.0.1/", "ws://", "ws://host:99999/", "ws://a b/", "ws://host/#frag", "", "127.0.0.1:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(sws_client_connect(loop, bad[i], NULL, &h, &p), SWS_ERR_INVALID_ARGUMENT);
    }
    CHECK_EQ_INT(sws_client_connect(loop, NULL, NULL, &h, &p), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_client_connect(NULL, "ws://127.0.0.1/", NULL, &h, &p), SWS_ERR_INVALID_ARGUMENT);
    sws_session_config zero_limits;
    sws_session_config_init(&zero_limits);
    zero_limits.max_message_size = 0;
    sws_connection_config zero_connection;
    sws_connection_config_init(&zero_connection);
    zero_connection.limits = &zero_limits;
    sws_client_config config;
    sws_client_config_init(&config);
    config.connection = &zero_connection;
    CHECK_EQ_INT(sws_client_connect(loop, "ws://127.0.0.1/", &config, &h, &p), SWS_ERR_INVALID_ARGUMENT);
    sws_client_config_init(&config);
    static const char *const names[] = {"X-Bad"};
    static const char *const values[] = {"a\r\nb"};
    config.header_names = names;
    config.header_values = values;
    config.header_count = 1;
    CHECK_EQ_INT(sws_client_connect(loop, "ws://127.0.0.1/", &config, &h, &p), SWS_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < 5; i++) sws_loop_run_once(loop, 10);
    CHECK_EQ_INT(p.connect_errors, 0);

    /* Nobody listens: the connection is refused. */
    sws_server_t *server = NULL;
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, NULL, &h, NULL, &server), SWS_OK);
    char url[128];
    url_for(server, "/", url, sizeof url);
    sws_server_free(server);
    CHECK_EQ_INT(sws_client_connect(loop, url, NULL, &h, &p), SWS_OK);
    RUN_UNTIL(loop, p.connect_errors == 1);
    CHECK_EQ_INT(p.connect_status, SWS_ERR_IO);
    CHECK_EQ_INT(p.opened + p.closed, 0);

    /* Server creation errors. */
    CHECK_EQ_INT(sws_server_new(loop, "no-such-host.invalid", 0, NULL, &h, NULL, &server), SWS_ERR_RESOLVE);
    CHECK(server == NULL);
    /* A name the resolver knows is listened on (issue 13: "localhost" was refused). */
    CHECK_EQ_INT(sws_server_new(loop, "localhost", 0, NULL, &h, NULL, &server), SWS_OK);
    CHECK(server != NULL && sws_server_port(server) != 0);
    sws_server_free(server);
    server = NULL;
    sws_session_config huge;
    sws_session_config_init(&huge);
    huge.max_frame_size = SIZE_MAX;
    sws_connection_config huge_connection;
    sws_connection_config_init(&huge_connection);
    huge_connection.limits = &huge;
    sws_server_config sc;
    sws_server_config_init(&sc);
    sc.connection = &huge_connection;
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, &sc, &h, NULL, &server), SWS_ERR_INVALID_ARGUMENT);
    sws_server_config_init(&sc);
    sc.memory_budget = SIZE_MAX;
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, &sc, &h, NULL, &server), SWS_ERR_INVALID_ARGUMENT);
    sws_server_config_init(&sc);
    sc.subprotocol_count = 1; /* array NULL */
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, &sc, &h, NULL, &server), SWS_ERR_INVALID_ARGUMENT);
    sws_server_config_init(&sc);
    sc.size = 3;
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, &sc, &h, NULL, &server), SWS_ERR_INVALID_ARGUMENT);
    sws_server_t *first = NULL;
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, NULL, &h, NULL, &first), SWS_OK);
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", sws_server_port(first), NULL, &h, NULL, &server), SWS_ERR_IO);
    CHECK(strstr(sws_last_error(), "in use") != NULL);
    CHECK_EQ_INT(sws_server_free(first), SWS_OK);
    CHECK_EQ_INT(sws_loop_free(loop), SWS_OK);
}

/* ---- Broadcast and topics ---- */

static void subscribe_on_open(sws_conn_t *conn, void *user_data) {
    checked_open(conn, user_data);
    const char *path = NULL;
    sws_conn_info(conn, &path, NULL, NULL);
    if (path && strcmp(path, "/news") == 0) CHECK_EQ_INT(sws_conn_subscribe(conn, "news"), SWS_OK);
}

static void shutdown_done(sws_server_t *server, void *user_data) {
    CHECK(server != NULL);
    ++*(int *)user_data;
}

static void test_broadcast_and_topics(void) {
    memset(&server_peer, 0, sizeof server_peer);
    sws_loop_t *loop = NULL;
    sws_loop_new(&loop);
    sws_conn_handlers sh = checked_handlers();
    sh.on_open = subscribe_on_open;
    sws_server_t *server = NULL;
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, NULL, &sh, &server_peer, &server), SWS_OK);
    struct peer clients[3];
    memset(clients, 0, sizeof clients);
    sws_conn_handlers h = checked_handlers();
    const char *paths[] = {"/news", "/news", "/other"};
    for (int i = 0; i < 3; i++) {
        char url[128];
        url_for(server, paths[i], url, sizeof url);
        CHECK_EQ_INT(sws_client_connect(loop, url, NULL, &h, &clients[i]), SWS_OK);
    }
    RUN_UNTIL(loop, clients[0].opened + clients[1].opened + clients[2].opened == 3 && server_peer.opened == 3);
    CHECK_EQ_INT(sws_server_subscriber_count(server, "news"), 2);

    size_t delivered = 99;
    CHECK_EQ_INT(sws_server_publish(server, "news", SWS_MESSAGE_TEXT, "headline", 8, NULL, &delivered), SWS_OK);
    CHECK_EQ_INT(delivered, 2);
    RUN_UNTIL(loop, clients[0].messages == 1 && clients[1].messages == 1);
    CHECK_EQ_STR(clients[1].last_text, "headline");
    CHECK_EQ_INT(sws_server_publish(server, "nobody", SWS_MESSAGE_TEXT, "x", 1, NULL, &delivered), SWS_OK);
    CHECK_EQ_INT(delivered, 0);
    CHECK_EQ_INT(sws_server_broadcast(server, SWS_MESSAGE_BINARY, "\x01\x02", 2, NULL, &delivered), SWS_OK);
    CHECK_EQ_INT(delivered, 3);
    RUN_UNTIL(loop, clients[0].messages == 2 && clients[1].messages == 2 && clients[2].messages == 1);
    CHECK_EQ_INT(clients[2].last_kind, SWS_MESSAGE_BINARY);
    CHECK_EQ_INT(sws_server_broadcast(server, SWS_MESSAGE_TEXT, "\xFF", 1, NULL, &delivered), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_broadcast(server, (sws_message_kind)5, "a", 1, NULL, &delivered), SWS_ERR_INVALID_ARGUMENT);

    /* Graceful shutdown: every client sees 1001, then `done` runs once. */
    int done_calls = 0;
    CHECK_EQ_INT(sws_server_shutdown(server, 2000, shutdown_done, &done_calls), SWS_OK);
    CHECK_EQ_INT(sws_server_shutdown(server, 2000, shutdown_done, &done_calls), SWS_ERR_CLOSED);
    RUN_UNTIL(loop, clients[0].closed + clients[1].closed + clients[2].closed == 3 && done_calls == 1);
    CHECK_EQ_INT(clients[0].close_code, 1001);
    CHECK_EQ_INT(clients[2].close_code, 1001);
    CHECK_EQ_INT(server_peer.closed, 3);
    CHECK_EQ_INT(sws_server_free(server), SWS_OK);
    CHECK_EQ_INT(sws_loop_free(loop), SWS_OK);
}

/* ---- Backpressure: a peer that stops reading ---- */

struct pressure {
    sws_conn_t *conn;
    int drains;
    int sent, buffered, dropped;
};

static void pressure_open(sws_conn_t *conn, void *user_data) {
    ((struct pressure *)user_data)->conn = conn;
}
static void pressure_drain(sws_conn_t *conn, void *user_data) {
    struct pressure *p = user_data;
    CHECK(conn == p->conn);
    CHECK_EQ_INT(sws_conn_buffered_amount(conn), 0);
    p->drains++;
}

static void test_backpressure(void) {
    sws_loop_t *loop = NULL;
    sws_loop_new(&loop);
    sws_compression_config off; /* random bytes below, but keep the byte counts exact anyway */
    sws_compression_config_init(&off);
    off.enabled = false;
    sws_connection_config connection;
    sws_connection_config_init(&connection);
    connection.max_buffered_amount = 4u << 20;
    connection.compression = &off;
    sws_server_config config;
    sws_server_config_init(&config);
    config.connection = &connection;
    struct pressure p;
    memset(&p, 0, sizeof p);
    sws_conn_handlers h;
    sws_conn_handlers_init(&h);
    h.on_open = pressure_open;
    h.on_drain = pressure_drain;
    sws_server_t *server = NULL;
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, &config, &h, &p, &server), SWS_OK);

    /* A raw TCP client with a tiny receive buffer: it upgrades (request made by the sans-I/O
     * client handshake), then reads nothing. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons(sws_server_port(server));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_EQ_INT(connect(fd, (struct sockaddr *)&address, sizeof address), 0);
    sws_client_handshake_config hc;
    sws_client_handshake_config_init(&hc);
    hc.host = "127.0.0.1";
    sws_client_handshake_t *handshake = NULL;
    sws_client_handshake_new(&hc, &handshake);
    const uint8_t *request;
    size_t request_len;
    sws_client_handshake_request(handshake, &request, &request_len);
    CHECK_EQ_INT(send(fd, request, request_len, 0), (long long)request_len);
    RUN_UNTIL(loop, p.conn != NULL);

    static uint8_t chunk[1 << 20];
    for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = (uint8_t)(i * 7 + 3);
    sws_send_result result = SWS_SEND_SENT;
    for (int i = 0; i < 64 && result != SWS_SEND_DROPPED; i++) {
        CHECK_EQ_INT(sws_conn_send_binary(p.conn, chunk, sizeof chunk, &result), SWS_OK);
        if (result == SWS_SEND_SENT) p.sent++;
        if (result == SWS_SEND_BUFFERED) p.buffered++;
        if (result == SWS_SEND_DROPPED) p.dropped++;
        sws_loop_run_once(loop, 0);
    }
    CHECK(p.buffered > 0);             /* the kernel stopped taking bytes */
    CHECK_EQ_INT(p.dropped, 1);        /* then the 4 MiB limit refused one */
    size_t buffered = sws_conn_buffered_amount(p.conn);
    CHECK(buffered > 0 && buffered <= (4u << 20) + sizeof chunk);
    CHECK(sws_conn_is_open(p.conn));   /* policy "drop": the connection stays open */
    CHECK_EQ_INT(p.drains, 0);

    /* The peer reads again: everything is written, then on_drain fires once. */
    static uint8_t sink[1 << 16];
    size_t total = 0;
    double deadline = now_seconds() + 10.0;
    while (p.drains == 0 && now_seconds() < deadline) {
        ssize_t n = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n > 0) total += (size_t)n;
        sws_loop_run_once(loop, n > 0 ? 0 : 1);
    }
    CHECK_EQ_INT(p.drains, 1);
    CHECK(total > buffered);
    CHECK_EQ_INT(sws_conn_buffered_amount(p.conn), 0);
    sws_send_result after = SWS_SEND_DROPPED;
    CHECK_EQ_INT(sws_conn_send_text(p.conn, "again", 5, &after), SWS_OK);
    CHECK_EQ_INT(after, SWS_SEND_SENT);

    close(fd);
    sws_client_handshake_free(handshake);
    sws_server_free(server);
    sws_loop_free(loop);
}

/* ---- Plain HTTP on the server's port ---- */

static void answer_http(sws_server_t *server, void *user_data, sws_request_t *request) {
    (void)server; (void)user_data;
    const char *target = NULL, *path = NULL;
    CHECK_EQ_INT(sws_request_target(request, &target, &path), SWS_OK);
    CHECK_EQ_INT(sws_request_accept(request, NULL, NULL), SWS_ERR_INVALID_ARGUMENT); /* not an upgrade */
    CHECK_EQ_INT(sws_request_subprotocol_count(request), 0);
    if (strcmp(path, "/health") == 0) CHECK_EQ_INT(sws_request_respond(request, 200, "ok\n", 3), SWS_OK);
    if (strcmp(path, "/page") == 0) {
        /* A page: its own Content-Type; a header the library writes itself, or a broken one, is refused. */
        CHECK_EQ_INT(sws_request_add_response_header(request, "Content-Type", "text/html; charset=utf-8"), SWS_OK);
        CHECK_EQ_INT(sws_request_add_response_header(request, "Bad Name", "x"), SWS_ERR_INVALID_ARGUMENT);
        CHECK_EQ_INT(sws_request_add_response_header(request, "X-Split", "a\r\nb"), SWS_ERR_INVALID_ARGUMENT);
        CHECK_EQ_INT(sws_request_respond(request, 200, "<p>hi</p>", 9), SWS_OK);
        CHECK_EQ_INT(sws_request_add_response_header(request, "X-Late", "y"), SWS_ERR_INVALID_ARGUMENT);
    }
    /* other paths: no answer, the server says 404 */
}

/* Sends `request` on a new TCP connection and returns the whole response (until the server closes). */
static void http_exchange(sws_loop_t *loop, uint16_t port, const char *request, char *response, size_t size) {
    int fd = loopback_client(port);
    CHECK_EQ_INT(send(fd, request, strlen(request), 0), (long long)strlen(request));
    size_t total = 0;
    double deadline = now_seconds() + 5.0;
    while (now_seconds() < deadline && total + 1 < size) {
        sws_loop_run_once(loop, 5);
        ssize_t n = recv(fd, response + total, size - 1 - total, MSG_DONTWAIT);
        if (n == 0) break; /* closed by the server */
        if (n > 0) total += (size_t)n;
    }
    response[total] = 0;
    close(fd);
}

static void test_plain_http(void) {
    sws_loop_t *loop = NULL;
    sws_loop_new(&loop);
    CHECK(sws_loop_next_timeout_ms(loop) == -1 || sws_loop_next_timeout_ms(loop) >= 0);
    sws_conn_handlers h;
    sws_conn_handlers_init(&h);
    h.on_http_request = answer_http;
    sws_server_config config;
    sws_server_config_init(&config);
    config.handshake_timeout_ms = 1500;
    sws_server_t *server = NULL;
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, &config, &h, NULL, &server), SWS_OK);
    char response[1024];
    http_exchange(loop, sws_server_port(server), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", response, sizeof response);
    CHECK(strncmp(response, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(response, "\r\n\r\nok\n") != NULL);
    http_exchange(loop, sws_server_port(server), "GET /page HTTP/1.1\r\nHost: x\r\n\r\n", response, sizeof response);
    CHECK(strstr(response, "\r\nContent-Type: text/html; charset=utf-8\r\n") != NULL);
    CHECK(strstr(response, "\r\n\r\n<p>hi</p>") != NULL);
    /* HEAD: the same head, without the content (RFC 9110 9.3.2). */
    http_exchange(loop, sws_server_port(server), "HEAD /page HTTP/1.1\r\nHost: x\r\n\r\n", response, sizeof response);
    CHECK(strstr(response, "\r\nContent-Length: 9\r\n") != NULL);
    CHECK(strstr(response, "<p>hi</p>") == NULL);
    http_exchange(loop, sws_server_port(server), "GET /other HTTP/1.1\r\nHost: x\r\n\r\n", response, sizeof response);
    CHECK(strncmp(response, "HTTP/1.1 404 ", 13) == 0);
    /* A broken upgrade gets the handshake's status (426: wrong version). */
    http_exchange(loop, sws_server_port(server),
                  "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
                  response, sizeof response);
    CHECK(strncmp(response, "HTTP/1.1 426 ", 13) == 0);
    /* The handshake timer is armed: the loop reports a finite timeout while a client is silent. */
    int fd = loopback_client(sws_server_port(server));
    for (int i = 0; i < 10; i++) sws_loop_run_once(loop, 5);
    int timeout = sws_loop_next_timeout_ms(loop);
    CHECK(timeout >= 0 && timeout <= 1500);
    close(fd);
    CHECK_EQ_INT(sws_loop_next_timeout_ms(NULL), -1);
    sws_server_free(server);
    sws_loop_free(loop);
}

/* ---- Deferred upgrade decisions, every request header, log lines, addresses ---- */

static sws_request_t *deferred_request;
static int deferred_calls;
/* When set, defer_upgrade drops the request at once instead of deferring it. */
static bool drop_at_once;
static char log_lines[4096];

static void record_log(void *user_data, sws_log_level level, const char *message, size_t len) {
    CHECK(user_data == log_lines);
    CHECK(strlen(message) == len);
    size_t used = strlen(log_lines);
    snprintf(log_lines + used, sizeof log_lines - used, "%d %s\n", (int)level, message);
}

static void defer_upgrade(sws_server_t *server, void *user_data, sws_request_t *request) {
    (void)server;
    (void)user_data;
    deferred_calls++;
    /* Every header line in order, both values of the repeated X-Token included. */
    size_t count = sws_request_header_count(request);
    int tokens = 0;
    for (size_t i = 0; i < count; i++) {
        const char *name = NULL, *value = NULL;
        CHECK_EQ_INT(sws_request_header_at(request, i, &name, &value), SWS_OK);
        if (strcmp(name, "X-Token") == 0) CHECK_EQ_STR(value, ++tokens == 1 ? "a" : "b");
    }
    CHECK_EQ_INT(tokens, 2);
    CHECK_EQ_INT(sws_request_header_at(request, count, NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
    if (drop_at_once) {
        CHECK_EQ_INT(sws_request_drop(request), SWS_OK);
        CHECK_EQ_INT(sws_request_drop(request), SWS_ERR_INVALID_ARGUMENT);   /* answered */
        CHECK_EQ_INT(sws_request_defer(request), SWS_ERR_INVALID_ARGUMENT);  /* answered */
        return;
    }
    CHECK_EQ_INT(sws_request_defer(request), SWS_OK);
    CHECK_EQ_INT(sws_request_defer(request), SWS_ERR_INVALID_ARGUMENT); /* once */
    deferred_request = request;
}

static void run_iterations(sws_loop_t *loop, int count) {
    for (int i = 0; i < count; i++) sws_loop_run_once(loop, 10);
}

static void test_deferred_upgrade(void) {
    sws_loop_t *loop = NULL;
    sws_loop_new(&loop);
    sws_server_config config;
    sws_server_config_init(&config);
    CHECK_EQ_INT(config.log_level, SWS_LOG_INFO);
    config.handshake_timeout_ms = 400;
    config.log = record_log;
    config.log_user_data = log_lines;
    memset(&server_peer, 0, sizeof server_peer);
    log_lines[0] = 0;
    sws_server_t *server = start_echo_server(loop, &config, defer_upgrade);

    /* The listening socket is the server's: getsockname gives its port. */
    struct sockaddr_in bound;
    socklen_t bound_len = sizeof bound;
    CHECK_EQ_INT(getsockname(sws_server_fd(server), (struct sockaddr *)&bound, &bound_len), 0);
    CHECK_EQ_INT(ntohs(bound.sin_port), sws_server_port(server));
    CHECK_EQ_INT(sws_server_fd(NULL), -1);

    char url[128];
    url_for(server, "/later", url, sizeof url);
    const char *names[] = {"X-Token", "X-Token"}, *values[] = {"a", "b"};
    sws_client_config client_config;
    sws_client_config_init(&client_config);
    client_config.header_names = names;
    client_config.header_values = values;
    client_config.header_count = 2;
    struct peer client = {0};
    sws_conn_handlers h = checked_handlers();

    /* 1. Accepted later: the client waits, then opens, and the echo works. */
    CHECK_EQ_INT(sws_client_connect(loop, url, &client_config, &h, &client), SWS_OK);
    RUN_UNTIL(loop, deferred_calls == 1);
    run_iterations(loop, 5);
    CHECK_EQ_INT(client.opened, 0);
    CHECK(sws_request_is_pending(deferred_request));
    const char *path = NULL;
    CHECK_EQ_INT(sws_request_target(deferred_request, NULL, &path), SWS_OK); /* still valid */
    CHECK_EQ_STR(path, "/later");
    CHECK_EQ_INT(sws_request_add_response_header(deferred_request, "X-Looked-Up", "yes"), SWS_OK);
    CHECK_EQ_INT(sws_request_accept(deferred_request, NULL, &server_peer), SWS_OK);
    CHECK(!sws_request_is_pending(deferred_request)); /* answered: the handle is gone */
    RUN_UNTIL(loop, client.opened == 1 && server_peer.opened == 1);
    /* The client reads the 101 as it came, with the header added while deferred. */
    const uint8_t *head = NULL;
    size_t head_len = 0;
    CHECK_EQ_INT(sws_conn_handshake_response(client.conn, &head, &head_len), SWS_OK);
    CHECK(head_len > 12 && memcmp(head, "HTTP/1.1 101", 12) == 0 && memcmp(head + head_len - 4, "\r\n\r\n", 4) == 0);
    char head_text[512];
    snprintf(head_text, sizeof head_text, "%.*s", (int)head_len, (const char *)head);
    CHECK(strstr(head_text, "\r\nX-Looked-Up: yes\r\n") != NULL);
    CHECK_EQ_INT(sws_conn_handshake_response(server_peer.conn, &head, &head_len), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_loop_connect_error_response(loop, NULL, NULL, NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
    char address[64];
    CHECK_EQ_INT(sws_conn_local_address(client.conn, address, sizeof address), SWS_OK);
    CHECK(strncmp(address, "127.0.0.1:", 10) == 0);
    CHECK_EQ_INT(sws_conn_local_address(client.conn, address, 3), SWS_ERR_TOO_BIG);
    CHECK_EQ_INT(sws_conn_send_text(client.conn, "ping", 4, NULL), SWS_OK);
    RUN_UNTIL(loop, client.messages == 1);
    CHECK_EQ_STR(client.last_text, "ping");
    CHECK(!sws_conn_close_initiated_locally(client.conn)); /* open */
    sws_conn_close(client.conn, 1000, NULL, 0);
    RUN_UNTIL(loop, client.closed == 1 && server_peer.closed == 1);
    CHECK(client.closed_locally);       /* the client began the close */
    CHECK(!server_peer.closed_locally); /* the server answered it */
    CHECK(!client.close_timed_out && !server_peer.close_timed_out); /* a handshake in time */
    CHECK(!sws_conn_close_initiated_locally(NULL));
    CHECK(!sws_conn_close_timed_out(NULL));

    /* 2. Refused later: the client sees the status, and the response's head and body. */
    response_loop = loop;
    CHECK_EQ_INT(sws_client_connect(loop, url, &client_config, &h, &client), SWS_OK);
    RUN_UNTIL(loop, deferred_calls == 2);
    CHECK_EQ_INT(sws_request_add_response_header(deferred_request, "WWW-Authenticate", "Basic"), SWS_OK);
    CHECK_EQ_INT(sws_request_respond(deferred_request, 401, "who?", 4), SWS_OK);
    RUN_UNTIL(loop, client.connect_errors == 1);
    CHECK_EQ_INT(client.connect_http_status, 401);
    CHECK(strncmp(refusal_head, "HTTP/1.1 401 Unauthorized\r\n", 27) == 0);
    CHECK(strstr(refusal_head, "\r\nWWW-Authenticate: Basic\r\n") != NULL);
    CHECK_EQ_STR(refusal_body, "who?");

    /* 3. Never decided: the handshake timeout answers 503; the late answer is refused and frees. */
    CHECK_EQ_INT(sws_client_connect(loop, url, &client_config, &h, &client), SWS_OK);
    RUN_UNTIL(loop, deferred_calls == 3);
    RUN_UNTIL(loop, client.connect_errors == 2);
    CHECK_EQ_INT(client.connect_http_status, 503);
    CHECK(!sws_request_is_pending(deferred_request));
    CHECK_EQ_INT(sws_request_accept(deferred_request, NULL, NULL), SWS_ERR_CLOSED);
    CHECK_EQ_INT(sws_request_accept(deferred_request, NULL, NULL), SWS_ERR_INVALID_ARGUMENT); /* freed */

    /* 4. Dropped later, then at once: no answer at all; the client sees the connection end
     * during the handshake (no HTTP status), and the server logs the drop. */
    CHECK_EQ_INT(sws_client_connect(loop, url, &client_config, &h, &client), SWS_OK);
    RUN_UNTIL(loop, deferred_calls == 4);
    CHECK_EQ_INT(sws_request_drop(deferred_request), SWS_OK);
    CHECK_EQ_INT(sws_request_drop(deferred_request), SWS_ERR_INVALID_ARGUMENT); /* freed */
    RUN_UNTIL(loop, client.connect_errors == 3);
    CHECK_EQ_INT(client.connect_status, SWS_ERR_HANDSHAKE);
    CHECK_EQ_INT(client.connect_http_status, 0);
    CHECK(strstr(client.connect_message, "closed during the handshake") != NULL);
    CHECK_EQ_STR(refusal_head, ""); /* nothing arrived: sws_loop_connect_error_response says so */
    drop_at_once = true;
    CHECK_EQ_INT(sws_client_connect(loop, url, &client_config, &h, &client), SWS_OK);
    RUN_UNTIL(loop, client.connect_errors == 4);
    drop_at_once = false;
    CHECK_EQ_INT(deferred_calls, 5);
    CHECK_EQ_INT(client.connect_http_status, 0);
    CHECK(strstr(client.connect_message, "closed during the handshake") != NULL);
    CHECK_EQ_INT(client.opened, 1);
    CHECK_EQ_INT(sws_request_drop(NULL), SWS_ERR_INVALID_ARGUMENT);

    /* 5. The client resets while its upgrade is deferred, and the answer comes before the loop
     * saw the reset: writing the 101 fails. The connection opens and is closed at once (on_open,
     * then on_close 1006), instead of staying open with nobody at the other end. */
    int raw = loopback_client(sws_server_port(server));
    const char upgrade[] = "GET /later HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                           "X-Token: a\r\nX-Token: b\r\n\r\n";
    CHECK_EQ_INT(send(raw, upgrade, strlen(upgrade), 0), (long long)strlen(upgrade));
    RUN_UNTIL(loop, deferred_calls == 6);
    struct linger reset = {1, 0};
    CHECK_EQ_INT(setsockopt(raw, SOL_SOCKET, SO_LINGER, &reset, sizeof reset), 0);
    close(raw);
    int opened_before = server_peer.opened, closed_before = server_peer.closed;
    CHECK_EQ_INT(sws_request_accept(deferred_request, NULL, &server_peer), SWS_OK);
    RUN_UNTIL(loop, server_peer.closed == closed_before + 1);
    CHECK_EQ_INT(server_peer.opened, opened_before + 1);
    CHECK_EQ_INT(server_peer.close_code, 1006);

    /* The log saw each outcome, at its level. */
    CHECK(strstr(log_lines, "1 connection dropped without an answer\n") != NULL);
    CHECK(strstr(log_lines, "1 connection open\n") != NULL);
    CHECK(strstr(log_lines, "1 connection closed (1000)\n") != NULL);
    CHECK(strstr(log_lines, "1 connection rejected (401 Unauthorized)\n") != NULL);
    CHECK(strstr(log_lines, "1 connection rejected (503 Service Unavailable)\n") != NULL);

    /* A client's log: its failed handshake at warning level; a bad level is refused. */
    log_lines[0] = 0;
    client_config.log = record_log;
    client_config.log_user_data = log_lines;
    client_config.log_level = SWS_LOG_WARNING;
    CHECK_EQ_INT(sws_client_connect(loop, url, &client_config, &h, &client), SWS_OK);
    RUN_UNTIL(loop, deferred_calls == 7);
    CHECK_EQ_INT(sws_request_respond(deferred_request, 403, NULL, 0), SWS_OK);
    RUN_UNTIL(loop, client.connect_errors == 5);
    CHECK(strstr(log_lines, "2 opening handshake failed") != NULL);
    CHECK(strstr(log_lines, "connection open") == NULL);
    client_config.log_level = (sws_log_level)9;
    CHECK_EQ_INT(sws_client_connect(loop, url, &client_config, &h, &client), SWS_ERR_INVALID_ARGUMENT);

    response_loop = NULL;
    CHECK_EQ_INT(sws_server_free(server), SWS_OK);
    CHECK_EQ_INT(sws_loop_free(loop), SWS_OK);
}

/* ---- A peer breaking the protocol over TCP: the exact close code, both ways ---- */

/* Connects a raw TCP socket to `port`, upgrades it (request from the sans-I/O client handshake,
 * compression off), and returns the socket; any bytes after the 101 stay unread. */
static int raw_upgraded_socket(sws_loop_t *loop, uint16_t port) {
    int fd = loopback_client(port);
    sws_compression_config off;
    sws_compression_config_init(&off);
    off.enabled = false;
    sws_client_handshake_config hc;
    sws_client_handshake_config_init(&hc);
    hc.host = "127.0.0.1";
    hc.compression = &off;
    sws_client_handshake_t *handshake = NULL;
    CHECK_EQ_INT(sws_client_handshake_new(&hc, &handshake), SWS_OK);
    const uint8_t *request;
    size_t request_len;
    sws_client_handshake_request(handshake, &request, &request_len);
    CHECK_EQ_INT(send(fd, request, request_len, 0), (long long)request_len);
    bool complete = false;
    double deadline = now_seconds() + 5.0;
    while (!complete && now_seconds() < deadline) {
        sws_loop_run_once(loop, 5);
        uint8_t byte; /* one byte at a time: nothing after the head is consumed */
        if (recv(fd, &byte, 1, MSG_DONTWAIT) == 1) {
            size_t consumed;
            CHECK_EQ_INT(sws_client_handshake_feed(handshake, &byte, 1, &consumed, &complete), SWS_OK);
        }
    }
    CHECK(complete);
    sws_client_handshake_free(handshake);
    return fd;
}

/* Reads until the server closes; returns the close code of the first close frame it sent (the
 * server does not mask, so the frame is plain: 0x88, length, code). */
static int read_close_code(sws_loop_t *loop, int fd) {
    uint8_t buffer[512];
    size_t total = 0;
    double deadline = now_seconds() + 5.0;
    while (now_seconds() < deadline && total < sizeof buffer) {
        sws_loop_run_once(loop, 5);
        ssize_t n = recv(fd, buffer + total, sizeof buffer - total, MSG_DONTWAIT);
        if (n == 0) break;
        if (n > 0) total += (size_t)n;
    }
    return total >= 4 && buffer[0] == 0x88 ? (buffer[2] << 8) | buffer[3] : -1;
}

static void test_protocol_errors_over_tcp(void) {
    memset(&server_peer, 0, sizeof server_peer);
    sws_loop_t *loop = NULL;
    sws_loop_new(&loop);
    sws_session_config limits;
    sws_session_config_init(&limits);
    limits.max_message_size = 1000;
    sws_connection_config connection;
    sws_connection_config_init(&connection);
    connection.limits = &limits;
    sws_server_config config;
    sws_server_config_init(&config);
    config.connection = &connection;
    sws_server_t *server = start_echo_server(loop, &config, NULL);
    uint16_t port = sws_server_port(server);

    /* An unmasked frame from a client: 1002 (RFC 6455 section 5.1). */
    int fd = raw_upgraded_socket(loop, port);
    uint8_t unmasked[] = {0x81, 0x02, 'h', 'i'};
    send(fd, unmasked, sizeof unmasked, 0);
    CHECK_EQ_INT(read_close_code(loop, fd), 1002);
    close(fd);
    RUN_UNTIL(loop, server_peer.closed == 1);
    CHECK_EQ_INT(server_peer.close_code, 1002);

    /* Invalid UTF-8 in a text message (mask key 0): 1007. */
    fd = raw_upgraded_socket(loop, port);
    uint8_t bad_text[] = {0x81, 0x82, 0, 0, 0, 0, 0xC3, 0x28};
    send(fd, bad_text, sizeof bad_text, 0);
    CHECK_EQ_INT(read_close_code(loop, fd), 1007);
    close(fd);
    RUN_UNTIL(loop, server_peer.closed == 2);
    CHECK_EQ_INT(server_peer.close_code, 1007);

    /* A message over max_message_size (announced 2000 bytes): 1009. */
    fd = raw_upgraded_socket(loop, port);
    uint8_t too_big[] = {0x82, 0xFE, 0x07, 0xD0, 0, 0, 0, 0};
    send(fd, too_big, sizeof too_big, 0);
    CHECK_EQ_INT(read_close_code(loop, fd), 1009);
    close(fd);
    RUN_UNTIL(loop, server_peer.closed == 3);
    CHECK_EQ_INT(server_peer.close_code, 1009);

    /* The transport ends without a close frame: 1006 reported, nothing sent. */
    fd = raw_upgraded_socket(loop, port);
    RUN_UNTIL(loop, server_peer.opened == 4);
    close(fd);
    RUN_UNTIL(loop, server_peer.closed == 4);
    CHECK_EQ_INT(server_peer.close_code, SWS_CLOSE_ABNORMAL);

    sws_server_free(server);
    sws_loop_free(loop);
}

/* ---- The connection's timers and the server's memory budget, seen by a raw peer ---- */

static void test_message_timeout_and_memory_budget(void) {
    memset(&server_peer, 0, sizeof server_peer);
    sws_loop_t *loop = NULL;
    sws_loop_new(&loop);
    sws_compression_config off;
    sws_compression_config_init(&off);
    off.enabled = false;
    sws_connection_config connection;
    sws_connection_config_init(&connection);
    connection.compression = &off;
    connection.message_timeout_ms = 200;
    connection.close_timeout_ms = 60000; /* the connection below sets its own */
    sws_server_config config;
    sws_server_config_init(&config);
    config.connection = &connection;
    config.memory_budget = 4096;
    sws_server_t *server = start_echo_server(loop, &config, NULL);
    uint16_t port = sws_server_port(server);

    /* The first fragment of a message and never the rest: 1008 after message_timeout_ms. */
    int fd = raw_upgraded_socket(loop, port);
    uint8_t first[] = {0x02, 0x82, 0, 0, 0, 0, 1, 2};
    send(fd, first, sizeof first, 0);
    CHECK_EQ_INT(read_close_code(loop, fd), 1008);
    close(fd);
    RUN_UNTIL(loop, server_peer.closed == 1);
    CHECK_EQ_INT(server_peer.close_code, 1008);
    CHECK(!server_peer.close_timed_out); /* the peer closed TCP in time */

    /* The server closes and the peer never answers: the close timeout (set on the open
     * connection: 200 ms instead of the configured 60 s) drops it (1006), and
     * sws_conn_close_timed_out says so in on_close. */
    fd = raw_upgraded_socket(loop, port);
    RUN_UNTIL(loop, server_peer.opened == 2);
    CHECK_EQ_INT(sws_conn_set_close_timeout(NULL, 200), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_set_close_timeout(server_peer.conn, 200), SWS_OK);
    double close_started = now_seconds();
    CHECK_EQ_INT(sws_conn_close(server_peer.conn, 1000, NULL, 0), SWS_OK);
    CHECK(!sws_conn_close_timed_out(server_peer.conn)); /* closing, not timed out yet */
    /* A handshake under way keeps its deadline: raising the timeout now changes nothing (the
     * RUN_UNTIL below gives up after 5 s). */
    CHECK_EQ_INT(sws_conn_set_close_timeout(server_peer.conn, 60000), SWS_OK);
    RUN_UNTIL(loop, server_peer.closed == 2);
    CHECK_EQ_INT(server_peer.close_code, SWS_CLOSE_ABNORMAL);
    CHECK(server_peer.close_timed_out);
    CHECK(now_seconds() - close_started >= 0.19);
    close(fd);

    /* Failing the connection: the close frame goes out, TCP closes at once without waiting for
     * the peer's answer (the 60 s close timeout does not matter), and on_close reports 1006. */
    fd = raw_upgraded_socket(loop, port);
    RUN_UNTIL(loop, server_peer.opened == 3);
    CHECK_EQ_INT(sws_conn_fail(server_peer.conn, 1011, "cannot go on", 12), SWS_OK);
    CHECK_EQ_INT(sws_conn_fail(server_peer.conn, 1011, NULL, 0), SWS_ERR_CLOSED); /* once */
    RUN_UNTIL(loop, server_peer.closed == 3);
    CHECK_EQ_INT(server_peer.close_code, SWS_CLOSE_ABNORMAL);
    CHECK(server_peer.closed_locally && !server_peer.close_timed_out);
    CHECK_EQ_INT(read_close_code(loop, fd), 1011);
    close(fd);
    CHECK_EQ_INT(sws_conn_fail(NULL, 1011, NULL, 0), SWS_ERR_INVALID_ARGUMENT);

    /* More unfinished input (6,000 bytes) than the server-wide budget (4,096): 1013. */
    fd = raw_upgraded_socket(loop, port);
    static uint8_t big[8 + 6000] = {0x02, 0xFE, 0x17, 0x70, 0, 0, 0, 0};
    send(fd, big, sizeof big, 0);
    CHECK_EQ_INT(read_close_code(loop, fd), 1013);
    close(fd);
    RUN_UNTIL(loop, server_peer.closed == 4);
    CHECK_EQ_INT(server_peer.close_code, 1013);

    sws_server_free(server);
    sws_loop_free(loop);
}

/* ---- Round 6's per-connection functions on a closing connection, then inside on_close ---- */

/* What the header promises once the close handshake has begun (and inside on_close): the
 * ending functions refuse with SWS_ERR_CLOSED, a batch entry is refused alone, the two setters
 * return SWS_OK. Returns how many of its checks failed. */
static int closing_connection_calls(sws_conn_t *conn) {
    int failures_before = check_failures;
    CHECK_EQ_INT(sws_conn_fail(conn, 1011, NULL, 0), SWS_ERR_CLOSED);
    CHECK_EQ_INT(sws_conn_close(conn, 1000, NULL, 0), SWS_ERR_CLOSED);
    CHECK_EQ_INT(sws_conn_set_close_timeout(conn, 100), SWS_OK);
    CHECK_EQ_INT(sws_conn_set_stream_fragmented(conn, true), SWS_OK);
    sws_send_entry entries[2] = {{.conn = conn, .len = 1, .kind = SWS_MESSAGE_TEXT},
                                 {.conn = conn, .len = 1, .kind = SWS_MESSAGE_BINARY}};
    CHECK_EQ_INT(sws_conn_send_batch(entries, 2, "xy"), 2);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(entries[i].status, SWS_ERR_CLOSED);
        CHECK(entries[i].result == SWS_SEND_DROPPED);
    }
    CHECK(!sws_conn_close_timed_out(conn));
    return check_failures - failures_before;
}

static int on_close_calls_checked;
static void close_and_check_calls(sws_conn_t *conn, void *user_data, uint16_t code, const char *reason,
                                  size_t len) {
    CHECK_EQ_INT(closing_connection_calls(conn), 0);
    on_close_calls_checked++;
    record_close(conn, user_data, code, reason, len);
}

static void test_calls_on_a_closing_connection(void) {
    memset(&server_peer, 0, sizeof server_peer);
    sws_loop_t *loop = NULL;
    CHECK_EQ_INT(sws_loop_new(&loop), SWS_OK);
    sws_server_t *server = start_echo_server(loop, NULL, NULL);
    char url[128];
    url_for(server, "/", url, sizeof url);
    struct peer client;
    memset(&client, 0, sizeof client);
    sws_conn_handlers h = checked_handlers();
    h.on_close = close_and_check_calls;
    on_close_calls_checked = 0;
    CHECK_EQ_INT(sws_client_connect(loop, url, NULL, &h, &client), SWS_OK);
    RUN_UNTIL(loop, client.opened == 1 && server_peer.opened == 1);

    /* sws_conn_fail's argument errors send nothing: the connection stays open. */
    static const char long_reason[124] = {0};
    CHECK_EQ_INT(sws_conn_fail(client.conn, 1005, NULL, 0), SWS_ERR_INVALID_ARGUMENT); /* may not be sent */
    CHECK_EQ_INT(sws_conn_fail(client.conn, 1011, "\xFF", 1), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_fail(client.conn, 1011, long_reason, sizeof long_reason), SWS_ERR_TOO_BIG);
    CHECK(sws_conn_is_open(client.conn));
    CHECK(!sws_conn_close_timed_out(client.conn)); /* open */

    /* Closing (the handshake under way), then inside on_close (close_and_check_calls). */
    CHECK_EQ_INT(sws_conn_close(client.conn, 1000, "bye", 3), SWS_OK);
    CHECK_EQ_INT(closing_connection_calls(client.conn), 0);
    RUN_UNTIL(loop, client.closed == 1 && server_peer.closed == 1);
    CHECK_EQ_INT(on_close_calls_checked, 1);
    CHECK_EQ_INT(client.close_code, 1000);
    CHECK_EQ_INT(server_peer.close_code, 1000);
    CHECK_EQ_STR(server_peer.close_reason, "bye");
    CHECK(!client.close_timed_out);

    CHECK_EQ_INT(sws_server_free(server), SWS_OK);
    CHECK_EQ_INT(sws_loop_free(loop), SWS_OK);
}

/* ---- Server config reaches the server: origins, connection limit, idle timeout, streaming ---- */

static int fragments_seen;
static void count_fragment(sws_conn_t *conn, void *user_data, sws_message_kind kind, const uint8_t *data, size_t len,
                           bool is_first, bool is_final) {
    (void)conn; (void)user_data; (void)data;
    CHECK_EQ_INT(kind, SWS_MESSAGE_BINARY);
    CHECK(len > 0);
    if (fragments_seen == 0) CHECK(is_first);
    if (is_final) fragments_seen += 1000;
    fragments_seen++;
}

static void test_server_config(void) {
    memset(&server_peer, 0, sizeof server_peer);
    sws_loop_t *loop = NULL;
    sws_loop_new(&loop);
    static const char *const origins[] = {"https://good.example"};
    sws_session_config limits;
    sws_session_config_init(&limits);
    CHECK_EQ_INT(limits.inflate_budget, 256u << 10);
    limits.streaming_threshold = 1000;
    sws_connection_config connection;
    sws_connection_config_init(&connection);
    CHECK_EQ_INT(connection.max_buffered_amount, 16u << 20);
    CHECK_EQ_INT(connection.close_timeout_ms, 10000);
    CHECK_EQ_INT(connection.pong_timeout_ms, 20000);
    CHECK_EQ_INT(connection.message_timeout_ms, 0);
    connection.idle_timeout_ms = 300;
    connection.limits = &limits;
    sws_server_config config;
    sws_server_config_init(&config);
    CHECK_EQ_INT(config.handshake_timeout_ms, 10000);
    CHECK_EQ_INT(config.memory_budget, 0);
    CHECK_EQ_INT(config.max_head_size, 8192);
    CHECK_EQ_INT(config.max_header_count, 64);
    config.connection = &connection;
    config.allowed_origins = origins;
    config.allowed_origin_count = 1;
    config.max_connections = 1;
    sws_conn_handlers sh = checked_handlers();
    sh.on_fragment = count_fragment;
    sws_server_t *server = NULL;
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, &config, &sh, &server_peer, &server), SWS_OK);
    char url[128];
    url_for(server, "/", url, sizeof url);
    sws_conn_handlers h = checked_handlers();

    /* A browser from another origin: 403. */
    sws_client_config cc;
    sws_client_config_init(&cc);
    cc.origin = "https://evil.example";
    struct peer evil;
    memset(&evil, 0, sizeof evil);
    CHECK_EQ_INT(sws_client_connect(loop, url, &cc, &h, &evil), SWS_OK);
    RUN_UNTIL(loop, evil.connect_errors == 1);
    CHECK_EQ_INT(evil.connect_http_status, 403);

    /* The allowed origin gets in; a second client is over max_connections: 503. (Compression
     * off: streaming_threshold counts wire bytes, and the blob below compresses to nothing.) */
    sws_compression_config off;
    sws_compression_config_init(&off);
    off.enabled = false;
    sws_connection_config uncompressed;
    sws_connection_config_init(&uncompressed);
    uncompressed.compression = &off;
    cc.connection = &uncompressed;
    cc.origin = "https://good.example";
    struct peer good, second;
    memset(&good, 0, sizeof good);
    memset(&second, 0, sizeof second);
    CHECK_EQ_INT(sws_client_connect(loop, url, &cc, &h, &good), SWS_OK);
    RUN_UNTIL(loop, good.opened == 1);
    CHECK_EQ_INT(sws_client_connect(loop, url, &cc, &h, &second), SWS_OK);
    RUN_UNTIL(loop, second.connect_errors == 1);
    CHECK_EQ_INT(second.connect_status, SWS_ERR_HANDSHAKE);
    CHECK_EQ_INT(second.connect_http_status, 503);

    /* Above streaming_threshold the server gets the message frame by frame. */
    static uint8_t blob[3000];
    memset(blob, 7, sizeof blob);
    fragments_seen = 0;
    CHECK_EQ_INT(sws_conn_send_fragment(good.conn, SWS_MESSAGE_BINARY, blob, 1500, false, NULL), SWS_OK);
    CHECK_EQ_INT(sws_conn_send_fragment(good.conn, SWS_MESSAGE_BINARY, blob, 1500, true, NULL), SWS_OK);
    RUN_UNTIL(loop, fragments_seen >= 1000);
    CHECK_EQ_INT(fragments_seen, 1002);  /* two fragments, the second final */
    CHECK_EQ_INT(server_peer.messages, 0);

    /* Small fragments (under streaming_threshold) are reassembled until the connection asks for
     * fragmented messages frame by frame (sws_conn_set_stream_fragmented); a single-frame
     * message still comes whole after that. */
    fragments_seen = 0;
    CHECK_EQ_INT(sws_conn_send_fragment(good.conn, SWS_MESSAGE_BINARY, blob, 10, false, NULL), SWS_OK);
    CHECK_EQ_INT(sws_conn_send_fragment(good.conn, SWS_MESSAGE_BINARY, blob, 10, true, NULL), SWS_OK);
    RUN_UNTIL(loop, server_peer.messages == 1);
    CHECK_EQ_INT(fragments_seen, 0);
    CHECK_EQ_INT(sws_conn_set_stream_fragmented(NULL, true), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_set_stream_fragmented(server_peer.conn, true), SWS_OK);
    CHECK_EQ_INT(sws_conn_send_fragment(good.conn, SWS_MESSAGE_BINARY, blob, 10, false, NULL), SWS_OK);
    RUN_UNTIL(loop, fragments_seen == 1); /* the first frame alone, before the rest is sent */
    CHECK_EQ_INT(sws_conn_send_fragment(good.conn, SWS_MESSAGE_BINARY, blob, 10, false, NULL), SWS_OK);
    CHECK_EQ_INT(sws_conn_send_fragment(good.conn, SWS_MESSAGE_BINARY, blob, 10, true, NULL), SWS_OK);
    RUN_UNTIL(loop, fragments_seen >= 1000);
    CHECK_EQ_INT(fragments_seen, 1003);
    CHECK_EQ_INT(sws_conn_send_binary(good.conn, blob, 10, NULL), SWS_OK);
    RUN_UNTIL(loop, server_peer.messages == 2);
    CHECK_EQ_INT(fragments_seen, 1003);

    /* A silent client is closed after idle_timeout_ms with 1001. */
    double start = now_seconds();
    RUN_UNTIL(loop, good.closed == 1);
    CHECK_EQ_INT(good.close_code, 1001);
    CHECK_EQ_STR(good.close_reason, "idle timeout");
    CHECK(now_seconds() - start < 3.0);

    sws_server_free(server);
    sws_loop_free(loop);
}

/* ---- Threads: references, posts, stop, wrong-thread calls ---- */

struct thread_job {
    sws_loop_t *loop;
    sws_conn_ref_t *ref;
    sws_conn_t *conn;
    int sent;
    sws_status wrong_thread_send, wrong_thread_close, wrong_thread_server, wrong_thread_connect, post_status;
    sws_status wrong_thread_fail, wrong_thread_close_timeout, wrong_thread_stream_fragmented;
    sws_send_entry wrong_thread_batch;
    size_t wrong_thread_batch_not_sent;
    size_t buffered_from_thread;
};

static void posted_work(sws_loop_t *loop, void *user_data) {
    CHECK(loop != NULL);
    ++*(int *)user_data;
}
static int posted_count;

static void *sender_thread(void *arg) {
    struct thread_job *job = arg;
    for (int i = 0; i < 100; i++) {
        char text[32];
        int n = snprintf(text, sizeof text, "from thread %d", i);
        if (sws_conn_ref_send_text(job->ref, text, (size_t)n) == SWS_OK) job->sent++;
    }
    CHECK(!sws_conn_ref_is_closed(job->ref));
    job->wrong_thread_send = sws_conn_send_text(job->conn, "x", 1, NULL);
    job->wrong_thread_close = sws_conn_close(job->conn, 1000, NULL, 0);
    job->wrong_thread_fail = sws_conn_fail(job->conn, 1011, NULL, 0);
    job->wrong_thread_close_timeout = sws_conn_set_close_timeout(job->conn, 100);
    job->wrong_thread_stream_fragmented = sws_conn_set_stream_fragmented(job->conn, true);
    job->wrong_thread_batch = (sws_send_entry){.conn = job->conn, .len = 1, .kind = SWS_MESSAGE_TEXT};
    job->wrong_thread_batch_not_sent = sws_conn_send_batch(&job->wrong_thread_batch, 1, "x");
    job->buffered_from_thread = sws_conn_buffered_amount(job->conn);
    job->wrong_thread_connect = sws_client_connect(job->loop, "ws://127.0.0.1:1/", NULL, NULL, NULL);
    job->post_status = sws_loop_post(job->loop, posted_work, &posted_count);
    return NULL;
}

static int thread_messages;
static void count_message(sws_conn_t *conn, void *user_data, sws_message_kind kind, const uint8_t *data, size_t len) {
    record_message(conn, user_data, kind, data, len);
    thread_messages++;
}

/* The stopper waits until the loop runs (a callback it posts says so), then stops it from its
 * own thread: an event, not a guessed sleep. */
static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t running_changed = PTHREAD_COND_INITIALIZER;
static int loop_running;

static void signal_running(sws_loop_t *loop, void *user_data) {
    (void)loop;
    (void)user_data;
    pthread_mutex_lock(&running_lock);
    loop_running = 1;
    pthread_cond_signal(&running_changed);
    pthread_mutex_unlock(&running_lock);
}

static void *stopper_thread(void *arg) {
    CHECK_EQ_INT(sws_loop_post(arg, signal_running, NULL), SWS_OK);
    pthread_mutex_lock(&running_lock);
    while (!loop_running) pthread_cond_wait(&running_changed, &running_lock);
    pthread_mutex_unlock(&running_lock);
    CHECK_EQ_INT(sws_loop_stop(arg), SWS_OK);
    return NULL;
}

static void test_threads(void) {
    memset(&server_peer, 0, sizeof server_peer);
    sws_loop_t *loop = NULL;
    sws_loop_new(&loop);
    sws_server_t *server = start_echo_server(loop, NULL, NULL);
    struct peer client;
    memset(&client, 0, sizeof client);
    sws_conn_handlers h = checked_handlers();
    h.on_message = count_message;
    char url[128];
    url_for(server, "/", url, sizeof url);
    sws_client_connect(loop, url, NULL, &h, &client);
    RUN_UNTIL(loop, client.opened == 1);

    struct thread_job job;
    memset(&job, 0, sizeof job);
    job.loop = loop;
    job.conn = client.conn;
    CHECK_EQ_INT(sws_conn_ref_new(client.conn, &job.ref), SWS_OK);
    thread_messages = 0;
    posted_count = 0;
    pthread_t thread;
    pthread_create(&thread, NULL, sender_thread, &job);
    pthread_join(thread, NULL);
    CHECK_EQ_INT(job.sent, 100);
    CHECK_EQ_INT(job.wrong_thread_send, SWS_ERR_WRONG_THREAD);
    CHECK_EQ_INT(job.wrong_thread_close, SWS_ERR_WRONG_THREAD);
    CHECK_EQ_INT(job.wrong_thread_fail, SWS_ERR_WRONG_THREAD);
    CHECK_EQ_INT(job.wrong_thread_close_timeout, SWS_ERR_WRONG_THREAD);
    CHECK_EQ_INT(job.wrong_thread_stream_fragmented, SWS_ERR_WRONG_THREAD);
    CHECK_EQ_INT(job.wrong_thread_batch_not_sent, 1);
    CHECK_EQ_INT(job.wrong_thread_batch.status, SWS_ERR_WRONG_THREAD);
    CHECK(job.wrong_thread_batch.result == SWS_SEND_DROPPED);
    CHECK_EQ_INT(job.wrong_thread_connect, SWS_ERR_WRONG_THREAD);
    CHECK_EQ_INT(job.buffered_from_thread, 0);
    CHECK_EQ_INT(job.post_status, SWS_OK);
    RUN_UNTIL(loop, thread_messages == 100 && posted_count == 1);
    CHECK_EQ_STR(client.last_text, "from thread 99");

    /* sws_loop_stop from another thread ends sws_loop_run. */
    pthread_create(&thread, NULL, stopper_thread, loop);
    CHECK_EQ_INT(sws_loop_run(loop), SWS_OK);
    pthread_join(thread, NULL);

    /* After the close, the reference refuses, from any thread, without touching the connection. */
    CHECK_EQ_INT(sws_conn_ref_close(job.ref, 1000, "bye", 3), SWS_OK);
    RUN_UNTIL(loop, client.closed == 1);
    CHECK(sws_conn_ref_is_closed(job.ref));
    CHECK_EQ_INT(sws_conn_ref_send_text(job.ref, "late", 4), SWS_ERR_CLOSED);
    CHECK_EQ_INT(sws_conn_ref_close(job.ref, 1000, NULL, 0), SWS_ERR_CLOSED);
    CHECK_EQ_INT(sws_conn_ref_send_text(job.ref, "\xFF", 1), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_ref_free(job.ref), SWS_OK);
    CHECK_EQ_INT(sws_conn_ref_free(job.ref), SWS_ERR_INVALID_ARGUMENT); /* double free */
    CHECK_EQ_INT(sws_conn_ref_send_text(job.ref, "x", 1), SWS_ERR_INVALID_ARGUMENT); /* freed */
    CHECK(sws_conn_ref_is_closed(NULL));

    sws_server_free(server);
    sws_loop_free(loop);
    /* Posting to a freed loop's pointer is not allowed; posting NULL is refused. */
    CHECK_EQ_INT(sws_loop_post(NULL, posted_work, NULL), SWS_ERR_INVALID_ARGUMENT);
}

/* The header's promise: sws_loop_free() drops posted work that has not run; it is never called. */
static void test_posted_work_dropped_by_free(void) {
    sws_loop_t *loop = NULL;
    CHECK_EQ_INT(sws_loop_new(&loop), SWS_OK);
    int ran = 0;
    CHECK_EQ_INT(sws_loop_post(loop, posted_work, &ran), SWS_OK);
    CHECK_EQ_INT(sws_loop_post(loop, posted_work, &ran), SWS_OK);
    CHECK_EQ_INT(sws_loop_free(loop), SWS_OK);
    CHECK_EQ_INT(ran, 0);
}

static void test_null_handles(void) {
    CHECK_EQ_INT(sws_loop_new(NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_loop_free(NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_loop_run(NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_loop_run_once(NULL, 0), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_loop_stop(NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_loop_fd(NULL), -1);
    CHECK_EQ_INT(sws_conn_send_text(NULL, "a", 1, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_send_binary(NULL, "a", 1, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_send_fragment(NULL, SWS_MESSAGE_TEXT, "a", 1, true, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_send_ping(NULL, NULL, 0), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_send_pong(NULL, NULL, 0), SWS_ERR_INVALID_ARGUMENT);
    sws_session_state state = SWS_SESSION_OPEN;
    CHECK_EQ_INT(sws_conn_get_state(NULL, &state), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_pause_reading(NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_resume_reading(NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_request_add_response_header(NULL, "A", "b"), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_close(NULL, 1000, NULL, 0), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_abort(NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_buffered_amount(NULL), 0);
    CHECK(!sws_conn_is_compressed(NULL));
    CHECK(!sws_conn_is_open(NULL));
    CHECK(sws_conn_get_user_data(NULL) == NULL);
    CHECK_EQ_INT(sws_conn_set_user_data(NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_info(NULL, NULL, NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_subscribe(NULL, "t"), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_unsubscribe(NULL, "t"), SWS_ERR_INVALID_ARGUMENT);
    sws_conn_ref_t *ref = (sws_conn_ref_t *)&ref;
    CHECK_EQ_INT(sws_conn_ref_new(NULL, &ref), SWS_ERR_INVALID_ARGUMENT);
    CHECK(ref == NULL);
    CHECK_EQ_INT(sws_conn_ref_free(NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_handlers_init(NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_config_init(NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_client_config_init(NULL), SWS_ERR_INVALID_ARGUMENT);
    sws_server_t *server = (sws_server_t *)&server;
    CHECK_EQ_INT(sws_server_new(NULL, "127.0.0.1", 0, NULL, NULL, NULL, &server), SWS_ERR_INVALID_ARGUMENT);
    CHECK(server == NULL);
    CHECK_EQ_INT(sws_server_free(NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_port(NULL), 0);
    CHECK_EQ_INT(sws_server_connection_count(NULL), 0);
    CHECK_EQ_INT(sws_server_broadcast(NULL, SWS_MESSAGE_TEXT, "a", 1, NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_publish(NULL, "t", SWS_MESSAGE_TEXT, "a", 1, NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_subscriber_count(NULL, "t"), 0);
    CHECK_EQ_INT(sws_server_shutdown(NULL, 0, NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_request_target(NULL, NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_request_accept(NULL, NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_request_respond(NULL, 400, NULL, 0), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_request_subprotocol_count(NULL), 0);

    sws_loop_t *loop = NULL;
    sws_loop_new(&loop);
    CHECK_EQ_INT(sws_loop_run_once(loop, -2), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_loop_post(loop, NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK(sws_loop_fd(loop) >= 0);
    CHECK_EQ_INT(sws_loop_run_once(loop, 0), SWS_OK);
    CHECK_EQ_INT(sws_loop_free(loop), SWS_OK);
}

/* ---- on_messages: whole messages in one batch per iteration, in order, before on_close ---- */

static struct batch_server {
    int calls, entries, max_batch, empty_binaries, closed, messages_at_close, next_expected, single_messages,
        refused_echoes;
    uint16_t close_code;
} batched;

static void batch_messages(const sws_message_entry *messages, size_t count, const uint8_t *payloads,
                           size_t payloads_len, void *user_data) {
    batched.calls++;
    if ((int)count > batched.max_batch) batched.max_batch = (int)count;
    CHECK(user_data == &batched);
    CHECK(payloads != NULL);
    size_t offset = 0;
    for (size_t i = 0; i < count; i++) {
        const sws_message_entry *m = &messages[i];
        batched.entries++;
        CHECK(m->user_data == &batched);
        CHECK(m->data == payloads + offset); /* back to back, in arrival order */
        offset += m->len;
        if (m->kind == SWS_MESSAGE_BINARY) {
            CHECK_EQ_INT(m->len, 0);
            batched.empty_binaries++;
            continue;
        }
        char expected[32];
        snprintf(expected, sizeof expected, "msg-%d", batched.next_expected++);
        CHECK(m->len == strlen(expected) && memcmp(m->data, expected, m->len) == 0);
        /* A close frame read together with the message is processed before the batch is
         * delivered: then the echo is refused with SWS_ERR_CLOSED (documented). */
        sws_send_result result = SWS_SEND_DROPPED;
        sws_status status = sws_conn_send_text(m->conn, (const char *)m->data, m->len, &result);
        if (status == SWS_OK) {
            CHECK(result == SWS_SEND_SENT);
        } else {
            CHECK_EQ_INT(status, SWS_ERR_CLOSED);
            CHECK(!sws_conn_is_open(m->conn));
            batched.refused_echoes++;
        }
    }
    CHECK_EQ_INT(offset, payloads_len);
}

static void batch_single_message(sws_conn_t *conn, void *user_data, sws_message_kind kind, const uint8_t *data,
                                 size_t len) {
    (void)conn;
    (void)user_data;
    (void)kind;
    (void)data;
    (void)len;
    batched.single_messages++;
}

static void batch_close(sws_conn_t *conn, void *user_data, uint16_t code, const char *reason, size_t len) {
    (void)conn;
    (void)reason;
    (void)len;
    CHECK(user_data == &batched);
    batched.closed++;
    batched.close_code = code;
    batched.messages_at_close = batched.entries;
}

/* Connects `client` to `server` and writes, without running the loop in between (so that the
 * server reads them together), `count` texts "PREFIX-i" and an empty binary message. */
static void connect_and_write_burst(sws_loop_t *loop, sws_server_t *server, struct peer *client, const char *prefix,
                                    int count) {
    char url[128];
    url_for(server, "/", url, sizeof url);
    memset(client, 0, sizeof *client);
    sws_conn_handlers ch = checked_handlers();
    CHECK_EQ_INT(sws_client_connect(loop, url, NULL, &ch, client), SWS_OK);
    RUN_UNTIL(loop, client->opened == 1);
    for (int i = 0; i < count; i++) {
        char text[32];
        int n = snprintf(text, sizeof text, "%s-%d", prefix, i);
        CHECK_EQ_INT(sws_conn_send_text(client->conn, text, (size_t)n, NULL), SWS_OK);
    }
    CHECK_EQ_INT(sws_conn_send_binary(client->conn, "", 0, NULL), SWS_OK);
}

static void test_batched_messages(void) {
    memset(&batched, 0, sizeof batched);
    sws_loop_t *loop = NULL;
    CHECK_EQ_INT(sws_loop_new(&loop), SWS_OK);
    sws_conn_handlers h;
    sws_conn_handlers_init(&h);
    h.on_messages = batch_messages;
    h.on_message = batch_single_message; /* must not run: on_messages takes whole messages instead */
    h.on_close = batch_close;
    sws_server_t *server = NULL;
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, NULL, &h, &batched, &server), SWS_OK);

    /* 50 texts and an empty binary written before the server reads: one read, few batches. */
    struct peer client;
    connect_and_write_burst(loop, server, &client, "msg", 50);
    RUN_UNTIL(loop, client.messages == 50 && batched.empty_binaries == 1);
    CHECK_EQ_INT(batched.refused_echoes, 0);
    CHECK_EQ_STR(client.last_text, "msg-49");
    CHECK_EQ_INT(batched.next_expected, 50);
    CHECK(batched.max_batch > 1);
    CHECK(batched.calls < 51);
    CHECK_EQ_INT(batched.single_messages, 0);

    /* Messages followed at once by a close frame: every message reaches on_messages first. */
    for (int i = 50; i < 53; i++) {
        char text[32];
        int n = snprintf(text, sizeof text, "msg-%d", i);
        CHECK_EQ_INT(sws_conn_send_text(client.conn, text, (size_t)n, NULL), SWS_OK);
    }
    CHECK_EQ_INT(sws_conn_close(client.conn, 4001, "bye", 3), SWS_OK);
    RUN_UNTIL(loop, batched.closed == 1 && client.closed == 1);
    CHECK_EQ_INT(batched.messages_at_close, 54);
    CHECK_EQ_INT(batched.close_code, 4001);
    CHECK_EQ_INT(batched.next_expected, 53);

    CHECK_EQ_INT(sws_server_free(server), SWS_OK);
    CHECK_EQ_INT(sws_loop_free(loop), SWS_OK);
}

/* sws_conn_send_batch: the server echoes each batch of on_messages with one call. */
static struct batch_echo {
    int calls, sent, refused_closed, bad_entries;
} batch_echo;

static void batch_echo_messages(const sws_message_entry *messages, size_t count, const uint8_t *payloads,
                                size_t payloads_len, void *user_data) {
    (void)user_data;
    (void)payloads_len;
    batch_echo.calls++;
    /* The batch's entries, then two that must fail alone: an unknown kind and a NULL conn. */
    sws_send_entry entries[128];
    CHECK(count + 2 <= sizeof entries / sizeof entries[0]);
    for (size_t i = 0; i < count; i++) {
        entries[i] = (sws_send_entry){.conn = messages[i].conn, .len = messages[i].len, .kind = messages[i].kind,
                                      .status = SWS_ERR_IO, .result = SWS_SEND_BUFFERED};
    }
    entries[count] = (sws_send_entry){.conn = messages[0].conn, .len = 0, .kind = (sws_message_kind)77};
    entries[count + 1] = (sws_send_entry){.conn = NULL, .len = 0, .kind = SWS_MESSAGE_BINARY};
    /* The payloads of on_messages lie back to back as sws_conn_send_batch wants them. */
    size_t not_sent = sws_conn_send_batch(entries, count + 2, payloads);
    size_t refused = 0;
    for (size_t i = 0; i < count; i++) {
        if (entries[i].status == SWS_OK) {
            CHECK(entries[i].result == SWS_SEND_SENT);
            batch_echo.sent++;
        } else {
            /* A close frame read with the message: the connection is closing (as for sws_conn_send_text). */
            CHECK_EQ_INT(entries[i].status, SWS_ERR_CLOSED);
            CHECK(entries[i].result == SWS_SEND_DROPPED);
            batch_echo.refused_closed++;
            refused++;
        }
    }
    for (size_t i = count; i < count + 2; i++) {
        CHECK_EQ_INT(entries[i].status, SWS_ERR_INVALID_ARGUMENT);
        CHECK(entries[i].result == SWS_SEND_DROPPED);
        batch_echo.bad_entries++;
    }
    CHECK_EQ_INT(not_sent, refused + 2);
}

static void test_send_batch(void) {
    memset(&batch_echo, 0, sizeof batch_echo);
    CHECK_EQ_INT(sws_conn_send_batch(NULL, 0, NULL), 0);
    CHECK_EQ_INT(sws_conn_send_batch(NULL, 3, NULL), 3);
    sws_loop_t *loop = NULL;
    CHECK_EQ_INT(sws_loop_new(&loop), SWS_OK);
    sws_conn_handlers h;
    sws_conn_handlers_init(&h);
    h.on_messages = batch_echo_messages;
    sws_server_t *server = NULL;
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, NULL, &h, &batch_echo, &server), SWS_OK);

    /* Texts and an empty binary written before the server reads: echoed in order. */
    struct peer client;
    connect_and_write_burst(loop, server, &client, "batch", 40);
    CHECK_EQ_INT(sws_conn_send_text(client.conn, "batch-last", 10, NULL), SWS_OK);
    RUN_UNTIL(loop, client.messages == 42);
    CHECK_EQ_STR(client.last_text, "batch-last");
    CHECK_EQ_INT(batch_echo.sent, 42);
    CHECK_EQ_INT(batch_echo.bad_entries, 2 * batch_echo.calls);
    CHECK(batch_echo.calls < 42);

    /* Messages followed at once by a close frame: their echoes are refused with SWS_ERR_CLOSED
     * or sent (if they were read before the close frame), never lost silently. */
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(sws_conn_send_text(client.conn, "tail", 4, NULL), SWS_OK);
    CHECK_EQ_INT(sws_conn_close(client.conn, 1000, NULL, 0), SWS_OK);
    RUN_UNTIL(loop, client.closed == 1);
    CHECK_EQ_INT(batch_echo.sent + batch_echo.refused_closed, 45);

    CHECK_EQ_INT(sws_server_free(server), SWS_OK);
    CHECK_EQ_INT(sws_loop_free(loop), SWS_OK);
}

/* ---- wss:// (TLS): certificates made by Tests/Peers/make_test_certs.sh ---- */

static void tls_file(char *out, size_t size, const char *dir, const char *name) {
    snprintf(out, size, "%s/%s", dir, name);
}

static char upgrade_subject[128];
static void record_subject(sws_server_t *server, void *user_data, sws_request_t *request) {
    (void)server; (void)user_data;
    const char *subject = NULL;
    CHECK_EQ_INT(sws_request_peer_certificate_subject(request, &subject), SWS_OK);
    snprintf(upgrade_subject, sizeof upgrade_subject, "%s", subject ? subject : "(none)");
    CHECK_EQ_INT(sws_request_accept(request, NULL, NULL), SWS_OK);
}

static void test_wss_echo(void) {
    char dir[128], command[512], chain[192], key[192], ca[192], missing[192];
    snprintf(dir, sizeof dir, "/tmp/swiftws-ctest-tls-%ld", (long)getpid());
    snprintf(command, sizeof command, "sh '%s' '%s'", SWIFTWS_CERT_SCRIPT, dir);
    CHECK_EQ_INT(system(command), 0);
    tls_file(chain, sizeof chain, dir, "chain.pem");
    tls_file(key, sizeof key, dir, "server.key");
    tls_file(ca, sizeof ca, dir, "ca.pem");
    tls_file(missing, sizeof missing, dir, "missing.pem");

    memset(&server_peer, 0, sizeof server_peer);
    sws_loop_t *loop = NULL;
    CHECK_EQ_INT(sws_loop_new(&loop), SWS_OK);
    sws_tls_config server_tls;
    CHECK_EQ_INT(sws_tls_config_init(&server_tls), SWS_OK);
    CHECK(server_tls.use_system_trust_store && !server_tls.insecure_skip_verification);
    CHECK_EQ_INT(server_tls.min_version, SWS_TLS_1_2);
    CHECK_EQ_INT(server_tls.max_version, SWS_TLS_1_3);
    sws_server_config server_config;
    sws_server_config_init(&server_config);
    CHECK(server_config.tls == NULL);
    server_config.tls = &server_tls;

    /* A server without a certificate cannot start; the reason is in sws_last_error(). */
    sws_conn_handlers h = checked_handlers();
    sws_server_t *refused = NULL;
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, &server_config, &h, NULL, &refused), SWS_ERR_TLS);
    CHECK(strstr(sws_last_error(), "certificate") != NULL);

    /* An encrypted key: refused without its password (never a terminal prompt), read with it. */
    char encrypted_key[192];
    tls_file(encrypted_key, sizeof encrypted_key, dir, "server-encrypted.key");
    server_tls.certificate_chain_file = chain;
    server_tls.private_key_file = encrypted_key;
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, &server_config, &h, NULL, &refused), SWS_ERR_TLS);
    CHECK(strstr(sws_last_error(), "needs its password") != NULL);
    server_tls.private_key_password = "swiftws-test";
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, &server_config, &h, NULL, &refused), SWS_OK);
    CHECK_EQ_INT(sws_server_free(refused), SWS_OK);
    server_tls.private_key_password = NULL;

    server_tls.private_key_file = key;
    sws_server_t *server = start_echo_server(loop, &server_config, NULL);

    sws_tls_config client_tls;
    sws_client_config client_config;
    sws_tls_config_init(&client_tls);
    sws_client_config_init(&client_config);
    client_tls.ca_file = ca; /* the system store does not know the test CA */
    client_config.tls = &client_tls;
    struct peer client;
    memset(&client, 0, sizeof client);
    char url[128];
    snprintf(url, sizeof url, "wss://localhost:%u/echo", (unsigned)sws_server_port(server));
    CHECK_EQ_INT(sws_client_connect(loop, url, &client_config, &h, &client), SWS_OK);
    RUN_UNTIL(loop, client.opened == 1 && server_peer.opened == 1);
    sws_send_result result = SWS_SEND_DROPPED;
    CHECK_EQ_INT(sws_conn_send_text(client.conn, "secure", 6, &result), SWS_OK);
    RUN_UNTIL(loop, client.messages == 1);
    CHECK_EQ_STR(client.last_text, "secure");
    static uint8_t big[1 << 20];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 7);
    CHECK_EQ_INT(sws_conn_send_binary(client.conn, big, sizeof big, &result), SWS_OK);
    RUN_UNTIL(loop, client.messages == 2);
    CHECK_EQ_INT(client.last_len, sizeof big);
    CHECK_EQ_INT(sws_conn_close(client.conn, 1000, "done", 4), SWS_OK);
    RUN_UNTIL(loop, client.closed == 1 && server_peer.closed == 1);
    CHECK_EQ_INT(client.close_code, 1000);

    /* Without the test CA: the system store does not know it. on_connect_error says why. */
    struct peer stranger;
    memset(&stranger, 0, sizeof stranger);
    CHECK_EQ_INT(sws_client_connect(loop, url, NULL, &h, &stranger), SWS_OK);
    RUN_UNTIL(loop, stranger.connect_errors == 1);
    CHECK_EQ_INT(stranger.connect_status, SWS_ERR_TLS);

    /* Unusable client settings are the call's own error. */
    client_tls.ca_file = missing;
    CHECK_EQ_INT(sws_client_connect(loop, url, &client_config, &h, &stranger), SWS_ERR_TLS);
    client_tls.ca_file = ca;
    client_tls.min_version = 0x0301; /* TLS 1.0 */
    CHECK_EQ_INT(sws_client_connect(loop, url, &client_config, &h, &stranger), SWS_ERR_INVALID_ARGUMENT);
    client_tls.min_version = SWS_TLS_1_2;

    /* Reload: a bad file keeps the old certificate; a good one is taken. */
    server_tls.certificate_chain_file = missing;
    CHECK_EQ_INT(sws_server_reload_tls(server, &server_tls), SWS_ERR_TLS);
    server_tls.certificate_chain_file = chain;
    CHECK_EQ_INT(sws_server_reload_tls(server, &server_tls), SWS_OK);
    CHECK_EQ_INT(sws_server_reload_tls(server, NULL), SWS_ERR_INVALID_ARGUMENT);

    /* Mutual TLS: the client certificate's subject is visible in on_upgrade. */
    char client_chain[192], client_key[192];
    tls_file(client_chain, sizeof client_chain, dir, "client.pem");
    tls_file(client_key, sizeof client_key, dir, "client.key");
    server_tls.verify_client_certificates = true;
    server_tls.ca_file = ca;
    sws_server_t *mutual = start_echo_server(loop, &server_config, record_subject);
    client_tls.certificate_chain_file = client_chain;
    client_tls.private_key_file = client_key;
    struct peer member;
    memset(&member, 0, sizeof member);
    snprintf(url, sizeof url, "wss://localhost:%u/", (unsigned)sws_server_port(mutual));
    CHECK_EQ_INT(sws_client_connect(loop, url, &client_config, &h, &member), SWS_OK);
    RUN_UNTIL(loop, member.opened == 1);
    CHECK_EQ_STR(upgrade_subject, "CN=test client");
    CHECK_EQ_INT(sws_server_free(mutual), SWS_OK);

    CHECK_EQ_INT(sws_server_free(server), SWS_OK);
    CHECK_EQ_INT(sws_loop_free(loop), SWS_OK);
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    CHECK_EQ_INT(system(command), 0);
}

/* ---- Peers that do not speak HTTP: a junk answer, junk, silent and closed requests ---- */

/* A listening TCP socket on 127.0.0.1 (any port: `*port`). */
static int raw_listener(uint16_t *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_EQ_INT(bind(fd, (struct sockaddr *)&address, sizeof address), 0);
    CHECK_EQ_INT(listen(fd, 4), 0);
    socklen_t length = sizeof address;
    CHECK_EQ_INT(getsockname(fd, (struct sockaddr *)&address, &length), 0);
    *port = ntohs(address.sin_port);
    return fd;
}


/* Runs the loop until the server closes `fd`; returns what it sent before (NUL-terminated). */
static size_t read_until_closed(sws_loop_t *loop, int fd, char *buffer, size_t size) {
    size_t total = 0;
    bool closed = false;
    double deadline = now_seconds() + 5.0;
    while (!closed && now_seconds() < deadline && total + 1 < size) {
        sws_loop_run_once(loop, 5);
        ssize_t n = recv(fd, buffer + total, size - 1 - total, MSG_DONTWAIT);
        if (n == 0) closed = true;
        if (n > 0) total += (size_t)n;
    }
    CHECK(closed);
    buffer[total] = 0;
    return total;
}

/* Sends `len` bytes (0: a silent client) from a raw client of `server`; returns how many bytes
 * the server answered before it closed the connection (in `answer`, NUL-terminated). */
static size_t raw_exchange(sws_loop_t *loop, sws_server_t *server, const char *bytes, size_t len, char *answer,
                           size_t size) {
    int fd = loopback_client(sws_server_port(server));
    if (len > 0) CHECK_EQ_INT(send(fd, bytes, len, 0), (long long)len);
    size_t got = read_until_closed(loop, fd, answer, size);
    close(fd);
    return got;
}

static int no_request_calls;
static sws_no_request_reason no_request_reason;
static char no_request_message[128], no_request_bytes[128];

static void record_no_request(void *user_data, sws_no_request_reason reason, const char *message,
                              const uint8_t *received, size_t received_len) {
    CHECK(user_data == &no_request_calls);
    no_request_calls++;
    no_request_reason = reason;
    snprintf(no_request_message, sizeof no_request_message, "%s", message);
    snprintf(no_request_bytes, sizeof no_request_bytes, "%.*s", (int)received_len, (const char *)received);
}

static void test_not_http_peers(void) {
    sws_loop_t *loop = NULL;
    sws_loop_new(&loop);
    sws_conn_handlers h = checked_handlers();

    /* 1. A client whose server answers a line that is not HTTP: the connect fails as soon as
     * that line arrives (not at the handshake timeout), and the bytes are readable. */
    uint16_t port = 0;
    int listener = raw_listener(&port);
    CHECK_EQ_INT(fcntl(listener, F_SETFL, O_NONBLOCK), 0);
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/", (unsigned)port);
    struct peer client;
    memset(&client, 0, sizeof client);
    response_loop = loop;
    CHECK_EQ_INT(sws_client_connect(loop, url, NULL, &h, &client), SWS_OK);
    int accepted = -1;
    double started = now_seconds();
    while (accepted < 0 && now_seconds() < started + 5.0) {
        sws_loop_run_once(loop, 5);
        accepted = accept(listener, NULL, NULL); /* non-blocking listener */
    }
    CHECK(accepted >= 0);
    const char junk[] = "220 smtp.invalid ESMTP Postfix\r\n";
    CHECK_EQ_INT(send(accepted, junk, strlen(junk), 0), (long long)strlen(junk));
    RUN_UNTIL_FOR(loop, client.connect_errors == 1, 3.0); /* the default handshake timeout is 10 s */
    CHECK_EQ_INT(client.connect_status, SWS_ERR_HANDSHAKE);
    CHECK_EQ_INT(client.connect_http_status, 0);
    CHECK(strstr(client.connect_message, "HTTP version") != NULL);
    CHECK_EQ_STR(refusal_head, junk);
    response_loop = NULL;
    close(accepted);
    close(listener);

    /* 2. A server that answers bad requests (the default): 400 as soon as the request line is
     * not one, without waiting for the rest of the head; on_no_request is told either way. */
    sws_server_config config;
    sws_server_config_init(&config);
    CHECK(config.answer_bad_requests);
    CHECK(config.on_no_request == NULL);
    config.on_no_request = record_no_request;
    config.on_no_request_user_data = &no_request_calls;
    config.handshake_timeout_ms = 300;
    sws_server_t *server = NULL;
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, &config, &h, &server_peer, &server), SWS_OK);
    char answer[512];
    raw_exchange(loop, server, "HELO relay.invalid\r\n", 20, answer, sizeof answer);
    CHECK(strncmp(answer, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
    CHECK_EQ_INT(no_request_calls, 1);
    CHECK_EQ_INT(no_request_reason, SWS_NO_REQUEST_BAD_REQUEST_LINE);
    CHECK_EQ_STR(no_request_message, "request line is not 'METHOD target HTTP/x.y'");
    CHECK_EQ_STR(no_request_bytes, "HELO relay.invalid\r\n");
    /* Silent: 408 at the timeout, and the bytes that came (part of a request line). */
    raw_exchange(loop, server, "GET /", 5, answer, sizeof answer);
    CHECK(strncmp(answer, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0);
    CHECK_EQ_INT(no_request_calls, 2);
    CHECK_EQ_INT(no_request_reason, SWS_NO_REQUEST_TIMEOUT);
    CHECK_EQ_STR(no_request_bytes, "GET /");
    CHECK_EQ_INT(sws_server_free(server), SWS_OK);

    /* 3. answer_bad_requests off: the same connections are closed without a byte. */
    config.answer_bad_requests = false;
    struct peer server_side;
    memset(&server_side, 0, sizeof server_side);
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, &config, &h, &server_side, &server), SWS_OK);
    CHECK_EQ_INT(raw_exchange(loop, server, "HELO relay.invalid\r\n", 20, answer, sizeof answer), 0);
    CHECK_EQ_INT(no_request_calls, 3);
    CHECK_EQ_INT(no_request_reason, SWS_NO_REQUEST_BAD_REQUEST_LINE);
    CHECK_EQ_INT(raw_exchange(loop, server, NULL, 0, answer, sizeof answer), 0); /* silent: the timeout */
    CHECK_EQ_INT(no_request_calls, 4);
    CHECK_EQ_INT(no_request_reason, SWS_NO_REQUEST_TIMEOUT);
    CHECK_EQ_STR(no_request_bytes, "");
    /* A bare LF in a header line: malformed, not the request line; still silent. */
    CHECK_EQ_INT(raw_exchange(loop, server, "GET / HTTP/1.1\r\nHost: x\n", 24, answer, sizeof answer), 0);
    CHECK_EQ_INT(no_request_calls, 5);
    CHECK_EQ_INT(no_request_reason, SWS_NO_REQUEST_MALFORMED);
    /* The client closes first: told, with what it had sent. */
    int fd = loopback_client(sws_server_port(server));
    CHECK_EQ_INT(send(fd, "GET / HTTP/1.1\r\n", 16, 0), 16);
    close(fd);
    RUN_UNTIL(loop, no_request_calls == 6);
    CHECK_EQ_INT(no_request_reason, SWS_NO_REQUEST_CLOSED);
    CHECK_EQ_STR(no_request_message, "connection closed");
    CHECK_EQ_STR(no_request_bytes, "GET / HTTP/1.1\r\n");
    /* Over the limits is still answered (431), and is not "no request". */
    char big[9000];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    raw_exchange(loop, server, big, sizeof big, answer, sizeof answer);
    CHECK(strncmp(answer, "HTTP/1.1 431 ", 13) == 0);
    CHECK_EQ_INT(no_request_calls, 6);
    /* A WebSocket client still opens. */
    memset(&client, 0, sizeof client);
    url_for(server, "/", url, sizeof url);
    CHECK_EQ_INT(sws_client_connect(loop, url, NULL, &h, &client), SWS_OK);
    RUN_UNTIL(loop, client.opened == 1);
    CHECK_EQ_INT(no_request_calls, 6);
    CHECK_EQ_INT(sws_conn_close(client.conn, 1000, NULL, 0), SWS_OK);
    RUN_UNTIL(loop, client.closed == 1 && server_side.closed == 1);
    CHECK_EQ_INT(no_request_calls, 6);
    CHECK_EQ_INT(sws_server_free(server), SWS_OK);
    CHECK_EQ_INT(sws_loop_free(loop), SWS_OK);
}

/* ---- Sections: one CTest entry each (Tests/C/CMakeLists.txt), named after the header's ---- */

/* Each test belongs to the header section whose functions it exercises; `net_test SECTION...`
 * runs those sections, `net_test` alone runs them all, `net_test --list` prints the sections. */
static const struct net_section {
    const char *name;
    void (*tests[8])(void);
} net_sections[] = {
    {"event_loops", {test_threads, test_posted_work_dropped_by_free}},  /* "Event loops": refs, posts, stop, wrong-thread calls */
    {"connections", {test_echo_and_close, test_backpressure, test_protocol_errors_over_tcp,
                     test_batched_messages, test_send_batch, test_message_timeout_and_memory_budget,
                     test_calls_on_a_closing_connection}},
    {"servers", {test_plain_http, test_server_config, test_broadcast_and_topics, test_deferred_upgrade,
                 test_not_http_peers}},
    {"clients", {test_connect_failures}},
    {"misuse", {test_null_handles}},  /* NULL and dead handles in every section */
    {"tls", {test_wss_echo}},         /* "TLS": wss:// servers and clients, mutual TLS */
};
#define NET_SECTION_COUNT (sizeof net_sections / sizeof net_sections[0])

static void run_section(const struct net_section *section) {
    for (size_t i = 0; i < sizeof section->tests / sizeof section->tests[0] && section->tests[i]; i++) {
        section->tests[i]();
    }
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t s = 0; s < NET_SECTION_COUNT; s++) printf("%s\n", net_sections[s].name);
        return EXIT_SUCCESS;
    }
    for (int a = 1; a < argc; a++) {
        size_t s = 0;
        while (s < NET_SECTION_COUNT && strcmp(argv[a], net_sections[s].name) != 0) s++;
        if (s == NET_SECTION_COUNT) {
            fprintf(stderr, "net_test: unknown section '%s' (net_test --list names them)\n", argv[a]);
            return 2;
        }
    }
    for (size_t s = 0; s < NET_SECTION_COUNT; s++) {
        int selected = argc == 1;
        for (int a = 1; a < argc; a++) selected |= strcmp(argv[a], net_sections[s].name) == 0;
        if (selected) run_section(&net_sections[s]);
    }
    char name[64];
    snprintf(name, sizeof name, "net_test %s", argc == 2 ? argv[1] : "(all sections)");
    return check_summary(name);
}
