/*
 * recorder.h — session callbacks that record every event (kind, copied payload, code, flags) in
 * order, for the session tests, and helpers that move bytes between two sessions in memory; and
 * for the networked tests (net_test, reach_test, loops_test), connection callbacks that record
 * what a peer saw (struct peer), an echoing server callback and a bounded RUN_UNTIL.
 * Everything is `static inline`: a test includes it whole and uses a part.
 */
#ifndef SWIFTWS_TESTS_RECORDER_H
#define SWIFTWS_TESTS_RECORDER_H

#include "swiftws.h"

#include "check.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum event_kind { EV_TEXT, EV_BINARY, EV_FRAGMENT, EV_PING, EV_PONG, EV_CLOSE, EV_ERROR };

struct event {
    enum event_kind kind;
    uint8_t *data; /* a copy, NUL-terminated for convenience */
    size_t len;
    uint16_t code;
    sws_message_kind fragment_kind;
    bool is_first, is_final;
};

struct recorder {
    struct event events[64];
    size_t count;
    bool echo;     /* send each text/binary message back from inside the callback */
    sws_status echo_status;
};

static inline void record(struct recorder *r, enum event_kind kind, const void *data, size_t len, uint16_t code) {
    if (r->count >= sizeof r->events / sizeof r->events[0]) return;
    struct event *e = &r->events[r->count++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->data = malloc(len + 1);
    if (len > 0) memcpy(e->data, data, len);
    e->data[len] = 0;
    e->len = len;
    e->code = code;
}

static inline void on_text(sws_session_t *s, void *user, const char *data, size_t len) {
    struct recorder *r = user;
    record(r, EV_TEXT, data, len, 0);
    if (r->echo) r->echo_status = sws_session_send_text(s, data, len);
}
static inline void on_binary(sws_session_t *s, void *user, const uint8_t *data, size_t len) {
    struct recorder *r = user;
    record(r, EV_BINARY, data, len, 0);
    if (r->echo) r->echo_status = sws_session_send_binary(s, data, len);
}
static inline void on_fragment(sws_session_t *s, void *user, sws_message_kind kind, const uint8_t *data, size_t len,
                        bool is_first, bool is_final) {
    (void)s;
    struct recorder *r = user;
    record(r, EV_FRAGMENT, data, len, 0);
    r->events[r->count - 1].fragment_kind = kind;
    r->events[r->count - 1].is_first = is_first;
    r->events[r->count - 1].is_final = is_final;
}
static inline void on_ping(sws_session_t *s, void *user, const uint8_t *data, size_t len) {
    (void)s;
    record(user, EV_PING, data, len, 0);
}
static inline void on_pong(sws_session_t *s, void *user, const uint8_t *data, size_t len) {
    (void)s;
    record(user, EV_PONG, data, len, 0);
}
static inline void on_close(sws_session_t *s, void *user, uint16_t code, const char *reason, size_t len) {
    (void)s;
    record(user, EV_CLOSE, reason, len, code);
}
static inline void on_error(sws_session_t *s, void *user, uint16_t code, const char *reason, size_t len) {
    (void)s;
    record(user, EV_ERROR, reason, len, code);
}

static inline sws_session_callbacks recording_callbacks(void) {
    sws_session_callbacks cb;
    sws_session_callbacks_init(&cb);
    cb.on_text = on_text;
    cb.on_binary = on_binary;
    cb.on_fragment = on_fragment;
    cb.on_ping = on_ping;
    cb.on_pong = on_pong;
    cb.on_close = on_close;
    cb.on_error = on_error;
    return cb;
}

static inline void recorder_reset(struct recorder *r) {
    for (size_t i = 0; i < r->count; i++) free(r->events[i].data);
    r->count = 0;
}

/* Moves everything `from` has pending into `to`, `chunk` bytes per sws_session_feed() call
 * (copied first: feeding unmasks in place). Returns the number of bytes moved. */
static inline size_t pump(sws_session_t *from, sws_session_t *to, size_t chunk) {
    const uint8_t *out;
    size_t len;
    if (sws_session_pending_output(from, &out, &len) != SWS_OK || len == 0) return 0;
    uint8_t *copy = malloc(len);
    memcpy(copy, out, len);
    sws_session_consume_output(from, len);
    for (size_t offset = 0; offset < len; offset += chunk) {
        size_t n = len - offset < chunk ? len - offset : chunk;
        sws_session_feed(to, copy + offset, n);
    }
    free(copy);
    return len;
}

/* ---- Connections over real sockets (net_test, reach_test, loops_test) ---- */

static inline double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs the loop until `cond` holds or `seconds` pass (then the check fails): waits for events,
 * never for a fixed time. */
#define RUN_UNTIL_FOR(loop, cond, seconds)                                                   \
    do {                                                                                     \
        double run_deadline_ = now_seconds() + (seconds);                                    \
        while (!(cond) && now_seconds() < run_deadline_) sws_loop_run_once((loop), 20);      \
        CHECK(cond);                                                                         \
    } while (0)
#define RUN_UNTIL(loop, cond) RUN_UNTIL_FOR(loop, cond, 5.0)

/* What one side of a connection saw (the user_data of the callbacks below). */
struct peer {
    int opened, closed, messages, connect_errors;
    uint16_t close_code;
    char close_reason[128];
    char last_text[256];
    size_t last_len;
    sws_message_kind last_kind;
    sws_status connect_status;
    int connect_http_status;
    char connect_message[256];
    sws_conn_t *conn;
    char subprotocol[32];
    char path[64], query[64];
    sws_conn_counters counters; /* as on_close saw them */
    bool closed_locally;        /* sws_conn_close_initiated_locally in on_close */
    bool close_timed_out;       /* sws_conn_close_timed_out in on_close */
};

static inline void record_open(sws_conn_t *conn, void *user_data) {
    struct peer *p = user_data;
    p->opened++;
    p->conn = conn;
    const char *path = NULL, *query = NULL, *subprotocol = NULL;
    if (sws_conn_info(conn, &path, &query, &subprotocol) == SWS_OK) {
        snprintf(p->path, sizeof p->path, "%s", path ? path : "");
        snprintf(p->query, sizeof p->query, "%s", query ? query : "");
        snprintf(p->subprotocol, sizeof p->subprotocol, "%s", subprotocol ? subprotocol : "");
    }
}

static inline void record_message(sws_conn_t *conn, void *user_data, sws_message_kind kind, const uint8_t *data,
                                  size_t len) {
    (void)conn;
    struct peer *p = user_data;
    p->messages++;
    p->last_kind = kind;
    p->last_len = len;
    size_t n = len < sizeof p->last_text - 1 ? len : sizeof p->last_text - 1;
    if (n > 0) memcpy(p->last_text, data, n);
    p->last_text[n] = 0;
}

static inline void record_close(sws_conn_t *conn, void *user_data, uint16_t code, const char *reason, size_t len) {
    struct peer *p = user_data;
    p->closed++;
    p->closed_locally = sws_conn_close_initiated_locally(conn);
    p->close_timed_out = sws_conn_close_timed_out(conn);
    p->counters.size = sizeof p->counters;
    CHECK_EQ_INT(sws_conn_get_counters(conn, &p->counters), SWS_OK);
    p->close_code = code;
    snprintf(p->close_reason, sizeof p->close_reason, "%.*s", (int)len, reason);
    p->conn = NULL;
}

static inline void record_connect_error(void *user_data, sws_status status, int http_status, const char *message) {
    struct peer *p = user_data;
    p->connect_errors++;
    p->connect_status = status;
    p->connect_http_status = http_status;
    CHECK(message != NULL && message[0] != '\0');
    snprintf(p->connect_message, sizeof p->connect_message, "%s", message ? message : "");
}

/* A server's on_message: records, then echoes the message from inside the callback. */
static inline void echo_message(sws_conn_t *conn, void *user_data, sws_message_kind kind, const uint8_t *data,
                                size_t len) {
    record_message(conn, user_data, kind, data, len);
    sws_send_result result = SWS_SEND_DROPPED;
    sws_status status = kind == SWS_MESSAGE_TEXT ? sws_conn_send_text(conn, (const char *)data, len, &result)
                                                 : sws_conn_send_binary(conn, data, len, &result);
    CHECK_EQ_INT(status, SWS_OK);
    CHECK(result == SWS_SEND_SENT || result == SWS_SEND_BUFFERED);
}

/* Handlers that record every event into the `struct peer` given as user data. */
static inline sws_conn_handlers recording_handlers(void) {
    sws_conn_handlers h;
    sws_conn_handlers_init(&h);
    h.on_open = record_open;
    h.on_message = record_message;
    h.on_close = record_close;
    h.on_connect_error = record_connect_error;
    return h;
}

#endif
