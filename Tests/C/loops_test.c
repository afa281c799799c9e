/*
 * A server on several loops through the C API (sws_server_config.loops) and its Redis option
 * (redis_url): 40 clients spread over 2 loops (callbacks on two threads), publishes from a
 * thread that runs no loop reach every subscriber once and in order, counts are summed over the
 * loops, sws_server_shutdown() closes everything with 1001; bad values are refused.
 */
#include "swiftws.h"
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define CLIENTS 40
#define MESSAGES 5

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs the clients' loop until `cond` holds or 10 s pass. */
#define RUN_UNTIL(loop, cond)                                                    \
    do {                                                                         \
        double run_deadline_ = now_seconds() + 10.0;                             \
        while (!(cond) && now_seconds() < run_deadline_) sws_loop_run_once((loop), 10); \
        CHECK(cond);                                                             \
    } while (0)

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

/* ---- The clients ---- */

struct client {
    int messages;
    int in_order;
    int opened;
    uint16_t close_code;
};

static void client_open(sws_conn_t *conn, void *user_data) {
    (void)conn;
    ((struct client *)user_data)->opened = 1;
}

static void client_message(sws_conn_t *conn, void *user_data, sws_message_kind kind, const uint8_t *data, size_t len) {
    (void)conn;
    (void)kind;
    struct client *c = user_data;
    char expected[16];
    snprintf(expected, sizeof expected, "m%d", c->messages);
    if (len != strlen(expected) || memcmp(data, expected, len) != 0) c->in_order = 0;
    c->messages++;
}

static void client_close(sws_conn_t *conn, void *user_data, uint16_t code, const char *reason, size_t reason_len) {
    (void)conn;
    (void)reason;
    (void)reason_len;
    ((struct client *)user_data)->close_code = code;
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
    sws_loop_t *server_loop = NULL, *client_loop = NULL;
    CHECK_EQ_INT(sws_loop_new(&server_loop), SWS_OK);
    CHECK_EQ_INT(sws_loop_new(&client_loop), SWS_OK);
    sws_server_config config;
    sws_server_config_init(&config);
    CHECK_EQ_INT(config.loops, 1);
    CHECK(config.redis_url == NULL);
    config.loops = 2;
    sws_conn_handlers handlers;
    sws_conn_handlers_init(&handlers);
    handlers.on_open = server_open;
    sws_server_t *server = NULL;
    CHECK_EQ_INT(sws_server_new(server_loop, "127.0.0.1", 0, &config, &handlers, NULL, &server), SWS_OK);
    uint16_t port = sws_server_port(server);
    CHECK(port != 0);
    pthread_t thread;
    CHECK_EQ_INT(pthread_create(&thread, NULL, run_server_loop, server_loop), 0);

    static struct client clients[CLIENTS];
    sws_conn_handlers client_handlers;
    sws_conn_handlers_init(&client_handlers);
    client_handlers.on_open = client_open;
    client_handlers.on_message = client_message;
    client_handlers.on_close = client_close;
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/", port);
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = (struct client){.in_order = 1};
        CHECK_EQ_INT(sws_client_connect(client_loop, url, NULL, &client_handlers, &clients[i]), SWS_OK);
    }
    /* Thread-safe with several loops: counted over both. */
    RUN_UNTIL(client_loop, sws_server_subscriber_count(server, "news") == CLIENTS);
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
        for (int i = 0; i < CLIENTS; i++) all &= clients[i].messages >= MESSAGES;
    }
    for (int i = 0; i < CLIENTS; i++) {
        CHECK_EQ_INT(clients[i].messages, MESSAGES);
        CHECK(clients[i].in_order);
    }

    CHECK_EQ_INT(sws_loop_post(server_loop, begin_shutdown, server), SWS_OK);
    int closed = 0;
    deadline = now_seconds() + 10.0;
    while ((!closed || !atomic_load(&shutdown_done)) && now_seconds() < deadline) {
        sws_loop_run_once(client_loop, 10);
        closed = 1;
        for (int i = 0; i < CLIENTS; i++) closed &= clients[i].close_code != 0;
    }
    CHECK(atomic_load(&shutdown_done));
    for (int i = 0; i < CLIENTS; i++) CHECK_EQ_INT(clients[i].close_code, 1001);
    CHECK_EQ_INT(sws_server_subscriber_count(server, "news"), 0);
    sws_loop_stop(server_loop);
    pthread_join(thread, NULL);
    /* The main thread takes the loop over (one iteration makes it the loop's thread) to free it. */
    CHECK_EQ_INT(sws_loop_run_once(server_loop, 0), SWS_OK);
    CHECK_EQ_INT(sws_server_free(server), SWS_OK);
    CHECK_EQ_INT(sws_loop_free(server_loop), SWS_OK);
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
    return check_summary("loops_test");
}
