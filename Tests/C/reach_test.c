/*
 * Reach through the C API, in one process: servers and clients on Unix sockets (a path and an
 * abstract name), adopted descriptors (a listening socket, a connection handed to the server, a
 * connection handed to the client), redirect chains with their limit and veto hook, a
 * reconnecting client whose server goes away and comes back ("connected", "lost", "retrying in
 * N ms"), and a SOCKS5 proxy (microsocks, started here when installed) with and without the
 * right credentials, plus a proxy that cannot be reached.
 */
#define _GNU_SOURCE
#include "swiftws.h"
#include "check.h"
#include "recorder.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* A client that says hello when it opens. */
static void hello_on_open(sws_conn_t *conn, void *user_data) {
    record_open(conn, user_data);
    sws_send_result result;
    CHECK_EQ_INT(sws_conn_send_text(conn, "hello", 5, &result), SWS_OK);
}

static sws_conn_handlers client_handlers(void) {
    sws_conn_handlers h = recording_handlers();
    h.on_open = hello_on_open;
    return h;
}

/* The servers echo (echo_message, recorder.h). */
static struct peer server_peer;

static sws_conn_handlers server_handlers(void (*on_upgrade)(sws_server_t *, void *, sws_request_t *)) {
    sws_conn_handlers h = recording_handlers();
    h.on_message = echo_message;
    h.on_upgrade = on_upgrade;
    return h;
}

static sws_server_t *echo_server(sws_loop_t *loop, uint16_t port) {
    sws_conn_handlers h = server_handlers(NULL);
    sws_server_t *server = NULL;
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", port, NULL, &h, &server_peer, &server), SWS_OK);
    return server;
}

/* Connects (over `fd` when >= 0) and waits for the echo of "hello". */
static void expect_echo(sws_loop_t *loop, const char *url, const sws_client_config *config, int fd, struct peer *client) {
    memset(client, 0, sizeof *client);
    sws_conn_handlers h = client_handlers();
    if (fd >= 0) {
        CHECK_EQ_INT(sws_client_connect_socket(loop, url, fd, config, &h, client), SWS_OK);
    } else {
        CHECK_EQ_INT(sws_client_connect(loop, url, config, &h, client), SWS_OK);
    }
    RUN_UNTIL(loop, client->messages == 1 || client->connect_errors > 0);
    CHECK_EQ_INT(client->connect_errors, 0);
    if (client->connect_errors) fprintf(stderr, "  connect error: %s\n", client->connect_message);
    CHECK_EQ_STR(client->last_text, "hello");
    if (client->conn) sws_conn_close(client->conn, 1000, NULL, 0);
    RUN_UNTIL(loop, client->closed == 1);
}

static void test_unix_sockets(void) {
    sws_loop_t *loop = NULL;
    CHECK_EQ_INT(sws_loop_new(&loop), SWS_OK);
    char path[128];
    snprintf(path, sizeof path, "/tmp/swiftws-reach-c-%d.sock", (int)getpid());
    char abstract[64];
    snprintf(abstract, sizeof abstract, "@swiftws-reach-c-%d", (int)getpid());
    const char *names[] = {path, abstract};
    for (int i = 0; i < 2; i++) {
        memset(&server_peer, 0, sizeof server_peer);
        sws_conn_handlers h = server_handlers(NULL);
        sws_server_t *server = NULL;
        CHECK_EQ_INT(sws_server_new_unix(loop, names[i], NULL, &h, &server_peer, &server), SWS_OK);
        CHECK_EQ_INT(sws_server_port(server), 0);
        CHECK_EQ_INT(access(path, F_OK) == 0, i == 0);
        sws_client_config config;
        sws_client_config_init(&config);
        config.unix_path = names[i];
        struct peer client;
        expect_echo(loop, "ws://localhost/over-unix", &config, -1, &client);
        CHECK_EQ_STR(server_peer.path, "/over-unix");
        CHECK_EQ_INT(sws_server_free(server), SWS_OK);
        CHECK(access(path, F_OK) != 0); /* the server removes its socket file */
    }
    sws_server_t *none = NULL;
    CHECK_EQ_INT(sws_server_new_unix(loop, "", NULL, NULL, NULL, &none), SWS_ERR_INVALID_ARGUMENT);
    char too_long[200];
    memset(too_long, 'a', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = 0;
    CHECK_EQ_INT(sws_server_new_unix(loop, too_long, NULL, NULL, NULL, &none), SWS_ERR_INVALID_ARGUMENT);
    sws_client_config config;
    sws_client_config_init(&config);
    config.unix_path = too_long;
    sws_conn_handlers h = client_handlers();
    struct peer client;
    CHECK_EQ_INT(sws_client_connect(loop, "ws://localhost/", &config, &h, &client), SWS_ERR_INVALID_ARGUMENT);
    sws_loop_free(loop);
}

static void test_adopted_sockets(void) {
    sws_loop_t *loop = NULL;
    CHECK_EQ_INT(sws_loop_new(&loop), SWS_OK);
    memset(&server_peer, 0, sizeof server_peer);
    /* A listening socket made here, as systemd passes one. */
    int listening = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_EQ_INT(bind(listening, (struct sockaddr *)&address, sizeof address), 0);
    CHECK_EQ_INT(listen(listening, 16), 0);
    socklen_t length = sizeof address;
    getsockname(listening, (struct sockaddr *)&address, &length);
    sws_conn_handlers h = server_handlers(NULL);
    sws_server_t *server = NULL;
    CHECK_EQ_INT(sws_server_new_from_socket(loop, listening, NULL, &h, &server_peer, &server), SWS_OK);
    CHECK_EQ_INT(sws_server_port(server), ntohs(address.sin_port));
    /* The client's connection, made here too (a blocking connect: the kernel completes it). */
    int connected = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ_INT(connect(connected, (struct sockaddr *)&address, sizeof address), 0);
    struct peer client;
    expect_echo(loop, "ws://127.0.0.1/", NULL, connected, &client);
    /* A connection handed to the server by the program's own code: a socket pair. */
    int pair[2];
    CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    CHECK_EQ_INT(sws_server_adopt_connection(server, pair[0]), SWS_OK);
    expect_echo(loop, "ws://localhost/", NULL, pair[1], &client);
    /* Not connections: refused, the caller keeps the descriptor. */
    int unconnected = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ_INT(sws_server_adopt_connection(server, unconnected), SWS_ERR_INVALID_ARGUMENT);
    sws_conn_handlers ch = client_handlers();
    CHECK_EQ_INT(sws_client_connect_socket(loop, "ws://localhost/", unconnected, NULL, &ch, &client), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_client_connect_socket(loop, "ws://localhost/", -1, NULL, &ch, &client), SWS_ERR_INVALID_ARGUMENT);
    sws_server_t *other = NULL;
    CHECK_EQ_INT(sws_server_new_from_socket(loop, unconnected, NULL, &h, NULL, &other), SWS_ERR_INVALID_ARGUMENT);
    CHECK(other == NULL);
    CHECK_EQ_INT(close(unconnected), 0); /* still ours */
    sws_server_free(server);
    sws_loop_free(loop);
}

/* Redirects: /a -> /b -> /c (absolute URL) -> accepted; /loop -> /loop. */
static uint16_t redirect_port;
static void redirecting_upgrade(sws_server_t *server, void *user_data, sws_request_t *request) {
    (void)server;
    (void)user_data;
    const char *path = NULL;
    sws_request_target(request, NULL, &path);
    char location[128] = "";
    if (strcmp(path, "/a") == 0) snprintf(location, sizeof location, "/b");
    if (strcmp(path, "/b") == 0) snprintf(location, sizeof location, "http://127.0.0.1:%u/c", (unsigned)redirect_port);
    if (strcmp(path, "/loop") == 0) snprintf(location, sizeof location, "/loop");
    if (location[0] == 0) return; /* accepted */
    CHECK_EQ_INT(sws_request_add_response_header(request, "Location", location), SWS_OK);
    CHECK_EQ_INT(sws_request_respond(request, 307, "moved", 5), SWS_OK);
}

static int redirects_seen;
static bool veto;
static bool count_redirect(void *user_data, int status, const char *url) {
    (void)user_data;
    redirects_seen++;
    CHECK_EQ_INT(status, 307);
    CHECK(strncmp(url, "ws://127.0.0.1:", 15) == 0);
    return !veto;
}

static void test_redirects(void) {
    sws_loop_t *loop = NULL;
    CHECK_EQ_INT(sws_loop_new(&loop), SWS_OK);
    memset(&server_peer, 0, sizeof server_peer);
    sws_conn_handlers h = server_handlers(redirecting_upgrade);
    sws_server_t *server = NULL;
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, NULL, &h, &server_peer, &server), SWS_OK);
    redirect_port = sws_server_port(server);
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/a", (unsigned)redirect_port);
    sws_client_config config;
    sws_client_config_init(&config);
    CHECK_EQ_INT(config.max_redirects, 10);
    config.on_redirect = count_redirect;
    struct peer client;
    expect_echo(loop, url, &config, -1, &client);
    CHECK_EQ_INT(redirects_seen, 2);
    CHECK_EQ_STR(server_peer.path, "/c");

    /* A loop stops at the limit; the vetoed redirect is reported as the 3xx it is. */
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/loop", (unsigned)redirect_port);
    config.max_redirects = 3;
    config.on_redirect = NULL;
    sws_conn_handlers ch = client_handlers();
    memset(&client, 0, sizeof client);
    CHECK_EQ_INT(sws_client_connect(loop, url, &config, &ch, &client), SWS_OK);
    RUN_UNTIL(loop, client.connect_errors == 1);
    CHECK_EQ_INT(client.connect_status, SWS_ERR_HANDSHAKE);
    CHECK_EQ_INT(client.connect_http_status, 307);
    CHECK(strstr(client.connect_message, "more than 3 redirects") != NULL);
    veto = true;
    redirects_seen = 0;
    config.on_redirect = count_redirect;
    memset(&client, 0, sizeof client);
    CHECK_EQ_INT(sws_client_connect(loop, url, &config, &ch, &client), SWS_OK);
    RUN_UNTIL(loop, client.connect_errors == 1);
    CHECK_EQ_INT(redirects_seen, 1);
    CHECK_EQ_INT(client.connect_http_status, 307);
    sws_server_free(server);
    sws_loop_free(loop);
}

/* Reconnection: "connected" (on_open), "lost" (on_close), "retrying in N ms" (on_retry). */
struct reconnect_log {
    struct peer peer;
    int retries;
    uint32_t delays[8];
    sws_status statuses[8];
};
static sws_loop_t *reconnect_loop;
static sws_server_t *reconnect_server;
static uint16_t reconnect_port;

static void on_retry(void *user_data, uint32_t failures, uint32_t delay_ms, sws_status status, int http_status,
                     const char *message) {
    struct reconnect_log *log = user_data;
    (void)http_status;
    CHECK(message != NULL && message[0] != 0);
    if (log->retries < 8) {
        log->delays[log->retries] = delay_ms;
        log->statuses[log->retries] = status;
    }
    log->retries++;
    CHECK_EQ_INT(failures, (uint32_t)log->retries);
    if (failures == 3) reconnect_server = echo_server(reconnect_loop, reconnect_port); /* it comes back */
}

static void test_reconnecting_client(void) {
    CHECK_EQ_INT(sws_loop_new(&reconnect_loop), SWS_OK);
    memset(&server_peer, 0, sizeof server_peer);
    reconnect_server = echo_server(reconnect_loop, 0);
    reconnect_port = sws_server_port(reconnect_server);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/", (unsigned)reconnect_port);
    sws_reconnect_config policy;
    CHECK_EQ_INT(sws_reconnect_config_init(&policy), SWS_OK);
    CHECK(policy.initial_delay_ms == 5000 && policy.min_delay_ms == 3100 && policy.max_delay_ms == 90000);
    CHECK(policy.factor > 1.617 && policy.factor < 1.619);
    /* The default schedule, as websockets': 3100, 5015, 8114, ... 90000. */
    CHECK_EQ_INT(sws_reconnect_delay_ms(NULL, 1, 0.5), 2500);
    CHECK_EQ_INT(sws_reconnect_delay_ms(NULL, 2, 0.5), 3100);
    CHECK_EQ_INT(sws_reconnect_delay_ms(NULL, 3, 0.5), 5015);
    CHECK_EQ_INT(sws_reconnect_delay_ms(NULL, 40, 0.5), 90000);
    policy.initial_delay_ms = 50;
    policy.min_delay_ms = 100;
    policy.max_delay_ms = 400;
    policy.factor = 2;
    policy.on_retry = on_retry;
    struct reconnect_log log;
    memset(&log, 0, sizeof log);
    sws_conn_handlers h = client_handlers();
    sws_reconnector_t *reconnector = NULL;
    CHECK_EQ_INT(sws_reconnector_new(reconnect_loop, url, NULL, &policy, &h, &log, &reconnector), SWS_OK);
    RUN_UNTIL(reconnect_loop, log.peer.messages == 1);
    /* The server goes away: its connection dropped, nobody listening. */
    CHECK(server_peer.conn != NULL);
    if (server_peer.conn) sws_conn_abort(server_peer.conn);
    sws_server_free(reconnect_server);
    RUN_UNTIL(reconnect_loop, log.peer.closed == 1);
    RUN_UNTIL_FOR(reconnect_loop, log.peer.messages == 2, 10.0);
    CHECK_EQ_INT(log.peer.opened, 2);
    CHECK_EQ_INT(log.retries, 3);
    CHECK(log.delays[0] < 50);
    CHECK_EQ_INT(log.delays[1], 100);
    CHECK_EQ_INT(log.delays[2], 200);
    CHECK_EQ_INT(log.statuses[0], SWS_ERR_IO); /* refused */
    /* Freeing stops it: the connection closes with 1001, no new attempt. */
    CHECK_EQ_INT(sws_reconnector_free(reconnector), SWS_OK);
    RUN_UNTIL(reconnect_loop, log.peer.closed == 2);
    CHECK_EQ_INT(sws_reconnector_free(reconnector), SWS_ERR_INVALID_ARGUMENT);
    /* A bad policy is refused. */
    policy.factor = 0.5;
    CHECK_EQ_INT(sws_reconnector_new(reconnect_loop, url, NULL, &policy, &h, &log, &reconnector), SWS_ERR_INVALID_ARGUMENT);
    CHECK(reconnector == NULL);
    sws_server_free(reconnect_server);
    sws_loop_free(reconnect_loop);
}

/* A SOCKS5 proxy (microsocks) in a child process on a free port. */
static uint16_t free_port(void) {
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(probe, (struct sockaddr *)&address, sizeof address);
    socklen_t length = sizeof address;
    getsockname(probe, (struct sockaddr *)&address, &length);
    close(probe);
    return ntohs(address.sin_port);
}

static void test_proxies(void) {
    sws_loop_t *loop = NULL;
    CHECK_EQ_INT(sws_loop_new(&loop), SWS_OK);
    memset(&server_peer, 0, sizeof server_peer);
    sws_server_t *server = echo_server(loop, 0);
    char url[64];
    snprintf(url, sizeof url, "ws://localhost:%u/", (unsigned)sws_server_port(server));
    sws_conn_handlers h = client_handlers();
    sws_client_config config;
    sws_client_config_init(&config);
    CHECK(config.proxy == NULL && !config.proxy_from_environment);
    struct peer client;

    /* A proxy that cannot be reached is named, with why. */
    uint16_t nobody = free_port();
    char proxy[128];
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%u", (unsigned)nobody);
    config.proxy = proxy;
    memset(&client, 0, sizeof client);
    CHECK_EQ_INT(sws_client_connect(loop, url, &config, &h, &client), SWS_OK);
    RUN_UNTIL(loop, client.connect_errors == 1);
    CHECK_EQ_INT(client.connect_status, SWS_ERR_PROXY);
    CHECK(strstr(client.connect_message, proxy) != NULL);
    config.proxy = "ftp://127.0.0.1:1";
    CHECK_EQ_INT(sws_client_connect(loop, url, &config, &h, &client), SWS_ERR_INVALID_ARGUMENT);

    if (access("/usr/bin/microsocks", X_OK) != 0) {
        fprintf(stderr, "reach_test: microsocks not installed (scripts/install-deps.sh); SOCKS5 part skipped\n");
    } else {
        uint16_t port = free_port();
        char port_text[16];
        snprintf(port_text, sizeof port_text, "%u", (unsigned)port);
        char *argv[] = {"microsocks", "-i", "127.0.0.1", "-p", port_text, "-u", "carol", "-P", "pw", NULL};
        pid_t child = 0;
        CHECK_EQ_INT(posix_spawn(&child, "/usr/bin/microsocks", NULL, NULL, argv, environ), 0);
        snprintf(proxy, sizeof proxy, "socks5h://carol:pw@127.0.0.1:%u", (unsigned)port);
        config.proxy = proxy;
        /* Until the proxy listens, connecting to it is refused: try again, bounded. */
        double deadline = now_seconds() + 5.0;
        do {
            memset(&client, 0, sizeof client);
            CHECK_EQ_INT(sws_client_connect(loop, url, &config, &h, &client), SWS_OK);
            while (client.messages == 0 && client.connect_errors == 0 && now_seconds() < deadline) sws_loop_run_once(loop, 20);
        } while (client.connect_errors == 1 && client.connect_status == SWS_ERR_PROXY &&
                 strstr(client.connect_message, "refused") != NULL && strstr(client.connect_message, "credentials") == NULL &&
                 now_seconds() < deadline);
        CHECK_EQ_INT(client.connect_errors, 0);
        CHECK_EQ_STR(client.last_text, "hello");
        if (client.conn) sws_conn_close(client.conn, 1000, NULL, 0);
        RUN_UNTIL(loop, client.closed == 1);
        snprintf(proxy, sizeof proxy, "socks5://carol:wrong@127.0.0.1:%u", (unsigned)port);
        memset(&client, 0, sizeof client);
        CHECK_EQ_INT(sws_client_connect(loop, url, &config, &h, &client), SWS_OK);
        RUN_UNTIL(loop, client.connect_errors == 1);
        CHECK_EQ_INT(client.connect_status, SWS_ERR_PROXY);
        CHECK(strstr(client.connect_message, "refused the credentials") != NULL);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    sws_server_free(server);
    sws_loop_free(loop);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    test_unix_sockets();
    test_adopted_sockets();
    test_redirects();
    test_reconnecting_client();
    test_proxies();
    return check_summary("reach_test");
}
