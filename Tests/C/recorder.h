/*
 * recorder.h — session callbacks that record every event (kind, copied payload, code, flags) in
 * order, for the session tests, and helpers that move bytes between two sessions in memory.
 */
#ifndef SWIFTWS_TESTS_RECORDER_H
#define SWIFTWS_TESTS_RECORDER_H

#include "swiftws.h"

#include <stdlib.h>
#include <string.h>

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

static void record(struct recorder *r, enum event_kind kind, const void *data, size_t len, uint16_t code) {
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

static void on_text(sws_session_t *s, void *user, const char *data, size_t len) {
    struct recorder *r = user;
    record(r, EV_TEXT, data, len, 0);
    if (r->echo) r->echo_status = sws_session_send_text(s, data, len);
}
static void on_binary(sws_session_t *s, void *user, const uint8_t *data, size_t len) {
    struct recorder *r = user;
    record(r, EV_BINARY, data, len, 0);
    if (r->echo) r->echo_status = sws_session_send_binary(s, data, len);
}
static void on_fragment(sws_session_t *s, void *user, sws_message_kind kind, const uint8_t *data, size_t len,
                        bool is_first, bool is_final) {
    (void)s;
    struct recorder *r = user;
    record(r, EV_FRAGMENT, data, len, 0);
    r->events[r->count - 1].fragment_kind = kind;
    r->events[r->count - 1].is_first = is_first;
    r->events[r->count - 1].is_final = is_final;
}
static void on_ping(sws_session_t *s, void *user, const uint8_t *data, size_t len) {
    (void)s;
    record(user, EV_PING, data, len, 0);
}
static void on_pong(sws_session_t *s, void *user, const uint8_t *data, size_t len) {
    (void)s;
    record(user, EV_PONG, data, len, 0);
}
static void on_close(sws_session_t *s, void *user, uint16_t code, const char *reason, size_t len) {
    (void)s;
    record(user, EV_CLOSE, reason, len, code);
}
static void on_error(sws_session_t *s, void *user, uint16_t code, const char *reason, size_t len) {
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

#endif
