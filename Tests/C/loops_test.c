/*
 * A server on several loops through the C API (sws_server_config.loops) and its Redis option
 * (redis_url): 40 clients spread over 2 loops (callbacks on two threads), publishes from a
 * thread that runs no loop reach every subscriber once and in order, counts are summed over the
 * loops, sws_server_shutdown() closes everything with 1001; bad values are refused. wss:// on 2
 * loops, and sws_server_reload_tls() reaching both. Run under LeakSanitizer by the sanitizer
 * build: a freed server on several loops leaves nothing behind. Work posted from a thread that
 * runs no loop to a deferred request (sws_request_post) and to a connection (sws_conn_ref_post)
 * runs on the loop thread that request or connection belongs to.
 */
#include "swiftws.h"
#include "check.h"
#include "recorder.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CLIENTS 40
#define MESSAGES 5

/* ---- The server: callbacks on every loop's thread ---- */

static atomic_int server_opened;
static pthread_t open_threads[2];
static atomic_int open_thread_count;

static void server_open(sws_conn_t *conn, void *user_data) {
    (void)user_data;
    CHECK_EQ_INT(sws_conn_subscribe(conn, "news"), SWS_OK);
    pthread_t self = pthread_self();
    int known = atomic_load(&open_thread_count);
    int seen = 0;
    for (int i = 0; i < known && i < 2; i++) seen |= pthread_equal(open_threads[i], self);
    if (!seen) {
        int slot = atomic_fetch_add(&open_thread_count, 1);
        if (slot < 2) open_threads[slot] = self;
    }
    atomic_fetch_add(&server_opened, 1);
}

static void *run_server_loop(void *loop) {
    sws_loop_run(loop);
    return NULL;
}

static atomic_int shutdown_done;
static void server_stopped(sws_server_t *server, void *user_data) {
    (void)server;
    (void)user_data;
    atomic_store(&shutdown_done, 1);
}

static void begin_shutdown(sws_loop_t *loop, void *server) {
    (void)loop;
    CHECK_EQ_INT(sws_server_shutdown(server, 5000, server_stopped, NULL), SWS_OK);
}

/* A server whose first loop runs on a thread of its own (the library starts the second). */
struct running_server {
    sws_loop_t *loop;
    sws_server_t *server;
    pthread_t thread;
    /* Read before the loop's thread starts: sws_server_port() is loop-thread-only, and once
     * that thread runs the loop, the test's thread gets 0 from it. */
    uint16_t port;
};

/* Creates the server on a new loop and starts that loop's thread; NULL server on failure. */
static struct running_server start_server(const sws_server_config *config, const sws_conn_handlers *handlers) {
    struct running_server s = {0};
    CHECK_EQ_INT(sws_loop_new(&s.loop), SWS_OK);
    atomic_store(&open_thread_count, 0);
    atomic_store(&server_opened, 0);
    atomic_store(&shutdown_done, 0);
    CHECK_EQ_INT(sws_server_new(s.loop, "127.0.0.1", 0, config, handlers, NULL, &s.server), SWS_OK);
    if (s.server == NULL) return s;
    s.port = sws_server_port(s.server);
    CHECK(s.port != 0);
    CHECK_EQ_INT(pthread_create(&s.thread, NULL, run_server_loop, s.loop), 0);
    return s;
}

/* After its shutdown: stops the loop's thread, then frees the server and its loop. */
static void free_server(struct running_server *s) {
    sws_loop_stop(s->loop);
    pthread_join(s->thread, NULL);
    /* The main thread takes the loop over (one iteration makes it the loop's thread) to free it. */
    CHECK_EQ_INT(sws_loop_run_once(s->loop, 0), SWS_OK);
    CHECK_EQ_INT(sws_server_free(s->server), SWS_OK);
    CHECK_EQ_INT(sws_loop_free(s->loop), SWS_OK);
}

/* ---- The clients (struct peer, recorder.h), checking that publishes come in order ---- */

struct client {
    struct peer peer;
    int in_order;
};

static void ordered_message(sws_conn_t *conn, void *user_data, sws_message_kind kind, const uint8_t *data, size_t len) {
    struct client *c = user_data;
    char expected[16];
    snprintf(expected, sizeof expected, "m%d", c->peer.messages);
    if (len != strlen(expected) || memcmp(data, expected, len) != 0) c->in_order = 0;
    record_message(conn, &c->peer, kind, data, len);
}

struct publisher {
    sws_server_t *server;
    sws_status status;
};

/* A thread that runs none of the server's loops publishes. */
static void *publish_from_elsewhere(void *arg) {
    struct publisher *p = arg;
    p->status = SWS_OK;
    for (int i = 0; i < MESSAGES; i++) {
        char text[16];
        int len = snprintf(text, sizeof text, "m%d", i);
        size_t delivered = 99;
        sws_status status = sws_server_publish(p->server, "news", SWS_MESSAGE_TEXT, text, (size_t)len, NULL, &delivered);
        if (status != SWS_OK) p->status = status;
        if (delivered != 0) p->status = SWS_ERR_INVALID_ARGUMENT; /* no loop of its own: 0 */
    }
    return NULL;
}

static void test_two_loops(void) {
    sws_loop_t *client_loop = NULL;
    CHECK_EQ_INT(sws_loop_new(&client_loop), SWS_OK);
    sws_server_config config;
    sws_server_config_init(&config);
    CHECK_EQ_INT(config.loops, 1);
    CHECK(config.redis_url == NULL);
    config.loops = 2;
    sws_conn_handlers handlers;
    sws_conn_handlers_init(&handlers);
    handlers.on_open = server_open;
    struct running_server running = start_server(&config, &handlers);
    sws_server_t *server = running.server;
    if (server == NULL) return;
    uint16_t port = running.port;

    static struct client clients[CLIENTS];
    /* The peer is the first member of struct client: the recording callbacks take it as is. */
    sws_conn_handlers client_handlers = recording_handlers();
    client_handlers.on_message = ordered_message;
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/", port);
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = (struct client){.in_order = 1};
        CHECK_EQ_INT(sws_client_connect(client_loop, url, NULL, &client_handlers, &clients[i]), SWS_OK);
    }
    /* Thread-safe with several loops: counted over both. */
    RUN_UNTIL_FOR(client_loop, sws_server_subscriber_count(server, "news") == CLIENTS, 10.0);
    CHECK_EQ_INT(sws_server_connection_count(server), CLIENTS);
    CHECK_EQ_INT(atomic_load(&open_thread_count), 2);

    struct publisher publisher = {.server = server};
    pthread_t publishing;
    CHECK_EQ_INT(pthread_create(&publishing, NULL, publish_from_elsewhere, &publisher), 0);
    pthread_join(publishing, NULL);
    CHECK_EQ_INT(publisher.status, SWS_OK);
    int all = 0;
    double deadline = now_seconds() + 10.0;
    while (!all && now_seconds() < deadline) {
        sws_loop_run_once(client_loop, 10);
        all = 1;
        for (int i = 0; i < CLIENTS; i++) all &= clients[i].peer.messages >= MESSAGES;
    }
    for (int i = 0; i < CLIENTS; i++) {
        CHECK_EQ_INT(clients[i].peer.messages, MESSAGES);
        CHECK(clients[i].in_order);
    }

    CHECK_EQ_INT(sws_loop_post(running.loop, begin_shutdown, server), SWS_OK);
    int closed = 0;
    deadline = now_seconds() + 10.0;
    while ((!closed || !atomic_load(&shutdown_done)) && now_seconds() < deadline) {
        sws_loop_run_once(client_loop, 10);
        closed = 1;
        for (int i = 0; i < CLIENTS; i++) closed &= clients[i].peer.close_code != 0;
    }
    CHECK(atomic_load(&shutdown_done));
    for (int i = 0; i < CLIENTS; i++) CHECK_EQ_INT(clients[i].peer.close_code, 1001);
    CHECK_EQ_INT(sws_server_subscriber_count(server, "news"), 0);
    free_server(&running);
    CHECK_EQ_INT(sws_loop_free(client_loop), SWS_OK);
}

/* ---- wss:// on 2 loops ---- */

/* Echoes from inside on_message, on whichever loop's thread the connection lives. */
static void echo_back(sws_conn_t *conn, void *user_data, sws_message_kind kind, const uint8_t *data, size_t len) {
    (void)user_data;
    sws_send_result result = SWS_SEND_DROPPED;
    sws_status status = kind == SWS_MESSAGE_TEXT ? sws_conn_send_text(conn, (const char *)data, len, &result)
                                                 : sws_conn_send_binary(conn, data, len, &result);
    CHECK_EQ_INT(status, SWS_OK);
}

/* The upgrade hook runs on the loop that accepted the connection (either): it accepts. */
static atomic_int upgrades;
static void accept_upgrade(sws_server_t *server, void *user_data, sws_request_t *request) {
    (void)server;
    (void)user_data;
    const char *subject = "unset";
    CHECK_EQ_INT(sws_request_peer_certificate_subject(request, &subject), SWS_OK);
    CHECK(subject == NULL); /* no client certificate asked for */
    CHECK_EQ_INT(sws_request_accept(request, NULL, NULL), SWS_OK);
    atomic_fetch_add(&upgrades, 1);
}

struct reload {
    sws_server_t *server;
    const sws_tls_config *tls;
    atomic_int status; /* 1 + the sws_status once done */
};

/* sws_server_reload_tls() is loop-thread-only: posted to the server's loop. */
static void reload_on_loop(sws_loop_t *loop, void *arg) {
    (void)loop;
    struct reload *r = arg;
    atomic_store(&r->status, 1 + (int)sws_server_reload_tls(r->server, r->tls));
}

/* Connects `count` wss:// clients at once (the acceptor spreads them over the loops) and
 * returns how many echoed "secure"; the others must have failed with SWS_ERR_TLS. */
static int connect_secure_clients(sws_loop_t *loop, const char *url, const sws_client_config *config, int count) {
    static struct peer peers[8];
    int sent[8] = {0};
    sws_conn_handlers h = recording_handlers();
    for (int i = 0; i < count; i++) {
        memset(&peers[i], 0, sizeof peers[i]);
        CHECK_EQ_INT(sws_client_connect(loop, url, config, &h, &peers[i]), SWS_OK);
    }
    int echoed = 0, settled = 0;
    double deadline = now_seconds() + 10.0;
    while (settled < count && now_seconds() < deadline) {
        sws_loop_run_once(loop, 20);
        settled = 0;
        for (int i = 0; i < count; i++) {
            struct peer *p = &peers[i];
            if (p->opened && p->conn && !sent[i]) {
                sws_send_result result;
                CHECK_EQ_INT(sws_conn_send_text(p->conn, "secure", 6, &result), SWS_OK);
                sent[i] = 1;
            }
            if (p->messages == 1 && p->conn) sws_conn_close(p->conn, 1000, NULL, 0);
            settled += p->connect_errors > 0 || p->closed > 0;
        }
    }
    CHECK_EQ_INT(settled, count);
    for (int i = 0; i < count; i++) {
        if (peers[i].connect_errors) {
            CHECK_EQ_INT(peers[i].connect_status, SWS_ERR_TLS);
        } else {
            CHECK_EQ_STR(peers[i].last_text, "secure");
            CHECK_EQ_INT(peers[i].close_code, 1000);
            echoed++;
        }
    }
    return echoed;
}

/* A server on 2 loops starts with a certificate from a CA the clients do not trust: every
 * handshake fails. sws_server_reload_tls() on its loop switches to a trusted one: then every
 * client echoes, on both loops (a loop still serving the old certificate would fail its share). */
static void test_tls_two_loops(void) {
    char dir[128], command[512], other_chain[192], other_key[192], chain[192], key[192], ca[192];
    snprintf(dir, sizeof dir, "/tmp/swiftws-ctest-loops-tls-%ld", (long)getpid());
    snprintf(command, sizeof command, "sh '%s' '%s'", SWIFTWS_CERT_SCRIPT, dir);
    CHECK_EQ_INT(system(command), 0);
    snprintf(other_chain, sizeof other_chain, "%s/other.pem", dir);
    snprintf(other_key, sizeof other_key, "%s/other.key", dir);
    snprintf(chain, sizeof chain, "%s/chain.pem", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);

    sws_loop_t *client_loop = NULL;
    CHECK_EQ_INT(sws_loop_new(&client_loop), SWS_OK);
    sws_tls_config server_tls;
    sws_tls_config_init(&server_tls);
    server_tls.certificate_chain_file = other_chain;
    server_tls.private_key_file = other_key;
    sws_server_config config;
    sws_server_config_init(&config);
    config.loops = 2;
    config.tls = &server_tls;
    sws_conn_handlers handlers;
    sws_conn_handlers_init(&handlers);
    handlers.on_open = server_open;
    handlers.on_message = echo_back;
    handlers.on_upgrade = accept_upgrade;
    struct running_server running = start_server(&config, &handlers);
    sws_server_t *server = running.server;
    if (server == NULL) return;
    char url[64];
    snprintf(url, sizeof url, "wss://localhost:%u/", running.port);

    sws_tls_config client_tls;
    sws_tls_config_init(&client_tls);
    client_tls.ca_file = ca;
    client_tls.use_system_trust_store = false;
    sws_client_config client_config;
    sws_client_config_init(&client_config);
    client_config.tls = &client_tls;
    CHECK_EQ_INT(connect_secure_clients(client_loop, url, &client_config, 4), 0);
    CHECK_EQ_INT(atomic_load(&server_opened), 0);

    server_tls.certificate_chain_file = chain;
    server_tls.private_key_file = key;
    struct reload reload = {.server = server, .tls = &server_tls};
    CHECK_EQ_INT(sws_loop_post(running.loop, reload_on_loop, &reload), SWS_OK);
    RUN_UNTIL(client_loop, atomic_load(&reload.status) != 0);
    CHECK_EQ_INT(atomic_load(&reload.status) - 1, SWS_OK);
    CHECK_EQ_INT(connect_secure_clients(client_loop, url, &client_config, 8), 8);
    CHECK_EQ_INT(atomic_load(&server_opened), 8);
    CHECK_EQ_INT(atomic_load(&upgrades), 8);
    CHECK_EQ_INT(atomic_load(&open_thread_count), 2);

    CHECK_EQ_INT(sws_loop_post(running.loop, begin_shutdown, server), SWS_OK);
    RUN_UNTIL(client_loop, atomic_load(&shutdown_done));
    free_server(&running);
    CHECK_EQ_INT(sws_loop_free(client_loop), SWS_OK);
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    CHECK_EQ_INT(system(command), 0);
}

/* ---- Work posted to a connection's or a deferred request's loop from another thread ---- */

#define POSTED 8

/* One server connection as the posting thread sees it: its request, then its reference. */
struct posted_slot {
    sws_request_t *_Atomic request;
    sws_conn_ref_t *_Atomic ref;
    pthread_t thread; /* the loop thread the request arrived on (written before `request`) */
    atomic_int answered; /* 1 + sws_request_accept's status, set on that loop */
    atomic_int sent;     /* 1 + sws_conn_send_text's status, set on that loop */
    atomic_int work_on_own_thread;
};
static struct posted_slot posted[POSTED];
static atomic_int deferred_count;

/* Defers every upgrade; the test thread answers it later through sws_request_post(). */
static void defer_upgrade(sws_server_t *server, void *user_data, sws_request_t *request) {
    (void)server;
    (void)user_data;
    int slot = atomic_fetch_add(&deferred_count, 1);
    if (slot >= POSTED) return; /* not deferred: accepted with the defaults */
    CHECK_EQ_INT(sws_request_defer(request), SWS_OK);
    posted[slot].thread = pthread_self();
    atomic_store(&posted[slot].request, request);
}

static void answer_on_loop(sws_request_t *request, void *arg) {
    struct posted_slot *slot = arg;
    atomic_store(&slot->work_on_own_thread, pthread_equal(pthread_self(), slot->thread));
    /* The slot is the connection's user data: on_open finds it. */
    atomic_store(&slot->answered, 1 + (int)sws_request_accept(request, NULL, slot));
}

static void posted_open(sws_conn_t *conn, void *user_data) {
    server_open(conn, user_data);
    struct posted_slot *slot = user_data;
    sws_conn_ref_t *ref = NULL;
    CHECK_EQ_INT(sws_conn_ref_new(conn, &ref), SWS_OK);
    atomic_store(&slot->ref, ref);
}

static void send_on_loop(sws_conn_t *conn, void *arg) {
    struct posted_slot *slot = arg;
    if (conn == NULL) {
        atomic_store(&slot->sent, 1 + (int)SWS_ERR_CLOSED);
        return;
    }
    if (!pthread_equal(pthread_self(), slot->thread)) atomic_store(&slot->work_on_own_thread, 0);
    sws_send_result result = SWS_SEND_DROPPED;
    sws_status status = sws_conn_send_text(conn, "posted", 6, &result);
    CHECK(result != SWS_SEND_DROPPED);
    CHECK(sws_conn_buffered_amount(conn) < 1024); /* loop-thread-only: 0 elsewhere would pass too */
    atomic_store(&slot->sent, 1 + (int)status);
}

static void never_called(sws_conn_t *conn, void *arg) {
    (void)conn;
    (void)arg;
    CHECK(!"work posted to a closed connection ran");
}

/* A server on 2 loops whose every upgrade is deferred: the test thread (which runs no server
 * loop) answers each through sws_request_post() and then sends through sws_conn_ref_post(); the
 * work runs on the loop thread the connection lives on, both loops are used, and loop-thread-only
 * calls succeed there. After the close, a post is refused with SWS_ERR_CLOSED. */
static void test_posting_to_other_loops(void) {
    sws_loop_t *client_loop = NULL;
    CHECK_EQ_INT(sws_loop_new(&client_loop), SWS_OK);
    sws_server_config config;
    sws_server_config_init(&config);
    config.loops = 2;
    sws_conn_handlers handlers;
    sws_conn_handlers_init(&handlers);
    handlers.on_upgrade = defer_upgrade;
    handlers.on_open = posted_open;
    memset(posted, 0, sizeof posted);
    atomic_store(&deferred_count, 0);
    struct running_server running = start_server(&config, &handlers);
    sws_server_t *server = running.server;
    if (server == NULL) return;
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/", running.port);
    static struct peer peers[POSTED];
    sws_conn_handlers client_handlers = recording_handlers();
    for (int i = 0; i < POSTED; i++) {
        memset(&peers[i], 0, sizeof peers[i]);
        CHECK_EQ_INT(sws_client_connect(client_loop, url, NULL, &client_handlers, &peers[i]), SWS_OK);
    }
    RUN_UNTIL_FOR(client_loop, atomic_load(&deferred_count) >= POSTED && atomic_load(&posted[POSTED - 1].request) != NULL, 10.0);
    CHECK_EQ_INT(sws_request_post(NULL, answer_on_loop, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_request_post(atomic_load(&posted[0].request), NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < POSTED; i++) {
        sws_request_t *request = atomic_load(&posted[i].request);
        CHECK(request != NULL);
        if (request) CHECK_EQ_INT(sws_request_post(request, answer_on_loop, &posted[i]), SWS_OK);
    }
    int opened = 0;
    double deadline = now_seconds() + 10.0;
    while (opened < POSTED && now_seconds() < deadline) {
        sws_loop_run_once(client_loop, 10);
        opened = 0;
        for (int i = 0; i < POSTED; i++) opened += atomic_load(&posted[i].ref) != NULL;
    }
    CHECK_EQ_INT(opened, POSTED);
    CHECK_EQ_INT(atomic_load(&open_thread_count), 2); /* both loops hold connections */
    CHECK_EQ_INT(sws_conn_ref_post(NULL, send_on_loop, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_conn_ref_post(atomic_load(&posted[0].ref), NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < POSTED; i++) {
        CHECK_EQ_INT(atomic_load(&posted[i].answered) - 1, SWS_OK);
        CHECK(atomic_load(&posted[i].work_on_own_thread));
        CHECK_EQ_INT(sws_conn_ref_post(atomic_load(&posted[i].ref), send_on_loop, &posted[i]), SWS_OK);
    }
    int received = 0;
    deadline = now_seconds() + 10.0;
    while (received < POSTED && now_seconds() < deadline) {
        sws_loop_run_once(client_loop, 10);
        received = 0;
        for (int i = 0; i < POSTED; i++) received += peers[i].messages == 1;
    }
    CHECK_EQ_INT(received, POSTED);
    for (int i = 0; i < POSTED; i++) {
        CHECK_EQ_STR(peers[i].last_text, "posted");
        CHECK_EQ_INT(atomic_load(&posted[i].sent) - 1, SWS_OK);
        CHECK(atomic_load(&posted[i].work_on_own_thread));
        if (peers[i].conn) sws_conn_close(peers[i].conn, 1000, NULL, 0);
    }
    int closed = 0;
    deadline = now_seconds() + 10.0;
    while (closed < POSTED && now_seconds() < deadline) {
        sws_loop_run_once(client_loop, 10);
        closed = 0;
        for (int i = 0; i < POSTED; i++) closed += sws_conn_ref_is_closed(atomic_load(&posted[i].ref));
    }
    CHECK_EQ_INT(closed, POSTED);
    for (int i = 0; i < POSTED; i++) {
        CHECK_EQ_INT(sws_conn_ref_post(atomic_load(&posted[i].ref), never_called, NULL), SWS_ERR_CLOSED);
        CHECK_EQ_INT(sws_conn_ref_free(atomic_load(&posted[i].ref)), SWS_OK);
    }
    CHECK_EQ_INT(sws_loop_post(running.loop, begin_shutdown, server), SWS_OK);
    RUN_UNTIL(client_loop, atomic_load(&shutdown_done));
    free_server(&running);
    CHECK_EQ_INT(sws_loop_free(client_loop), SWS_OK);
}

/* Bad values are refused with SWS_ERR_INVALID_ARGUMENT, and no server is made. */
static void test_bad_values(void) {
    sws_loop_t *loop = NULL;
    CHECK_EQ_INT(sws_loop_new(&loop), SWS_OK);
    sws_server_config config;
    sws_server_t *server = (sws_server_t *)&config;
    const char *bad_urls[] = {"http://127.0.0.1:6379", "redis://", "redis://127.0.0.1:70000"};
    for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
        sws_server_config_init(&config);
        config.redis_url = bad_urls[i];
        CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, &config, NULL, NULL, &server), SWS_ERR_INVALID_ARGUMENT);
        CHECK(server == NULL);
        CHECK(strstr(sws_last_error(), "redis_url") != NULL);
    }
    sws_server_config_init(&config);
    config.loops = 0;
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, &config, NULL, NULL, &server), SWS_ERR_INVALID_ARGUMENT);
    config.loops = 257;
    CHECK_EQ_INT(sws_server_new(loop, "127.0.0.1", 0, &config, NULL, NULL, &server), SWS_ERR_INVALID_ARGUMENT);
    CHECK(strstr(sws_last_error(), "loops") != NULL);
    CHECK_EQ_INT(sws_loop_free(loop), SWS_OK);
}

int main(void) {
    test_bad_values();
    test_two_loops();
    test_tls_two_loops();
    test_posting_to_other_loops();
    return check_summary("loops_test");
}
