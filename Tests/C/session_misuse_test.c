/*
 * Misuse of the session API returns the documented status and never crashes: NULL handles and
 * pointers, zero sizes, bad and oversized config values, struct size mismatches, send after
 * close, double close, double free, re-entering feed/free from a callback.
 */
#include "swiftws.h"
#include "check.h"

#include <stdint.h>
#include <string.h>

static void test_null_handles(void) {
    const uint8_t *out = (const uint8_t *)"x";
    size_t len = 5;
    uint16_t code = 7;
    CHECK_EQ_INT(sws_session_config_init(NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK(strlen(sws_last_error()) > 0);
    CHECK_EQ_INT(sws_session_callbacks_init(NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_SERVER, NULL, NULL, NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_free(NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_feed(NULL, (void *)"ab", 2), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_feed_eof(NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_send_text(NULL, "a", 1), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_send_binary(NULL, "a", 1), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_send_fragment(NULL, SWS_MESSAGE_TEXT, "a", 1, true), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_send_ping(NULL, NULL, 0), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_send_pong(NULL, NULL, 0), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_close(NULL, 1000, NULL, 0), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_pending_output(NULL, &out, &len), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_consume_output(NULL, 0), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_close_status(NULL, &code, NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK(!sws_session_should_close_transport(NULL));
    CHECK(!sws_session_closes_transport_first(NULL));
    CHECK_EQ_INT(sws_session_get_state(NULL), SWS_SESSION_CLOSED);

    sws_session_t *s = NULL;
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_SERVER, NULL, NULL, NULL, &s), SWS_OK);
    CHECK_EQ_INT(sws_session_pending_output(s, NULL, &len), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_pending_output(s, &out, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_close_status(s, NULL, NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
    /* Pointers NULL with a length: refused. */
    CHECK_EQ_INT(sws_session_feed(s, NULL, 5), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_send_text(s, NULL, 3), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_send_binary(s, NULL, 3), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_send_ping(s, NULL, 3), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_close(s, 1000, NULL, 3), SWS_ERR_INVALID_ARGUMENT);
    /* ... and nothing was queued by those. */
    CHECK_EQ_INT(sws_session_pending_output(s, &out, &len), SWS_OK);
    CHECK_EQ_INT(len, 0);
    CHECK_EQ_INT(sws_session_free(s), SWS_OK);
}

static void test_zero_sizes(void) {
    sws_session_t *s = NULL;
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_CLIENT, NULL, NULL, NULL, &s), SWS_OK);
    CHECK_EQ_INT(sws_session_feed(s, NULL, 0), SWS_OK);
    CHECK_EQ_INT(sws_session_send_text(s, NULL, 0), SWS_OK);
    CHECK_EQ_INT(sws_session_send_binary(s, NULL, 0), SWS_OK);
    CHECK_EQ_INT(sws_session_send_ping(s, NULL, 0), SWS_OK);
    CHECK_EQ_INT(sws_session_consume_output(s, 0), SWS_OK);
    const uint8_t *out;
    size_t len;
    sws_session_pending_output(s, &out, &len);
    CHECK_EQ_INT(len, 3 * 6); /* three masked frames with empty payloads: 2 + 4 bytes each */
    CHECK_EQ_INT(sws_session_consume_output(s, len + 1), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_consume_output(s, SIZE_MAX), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_close(s, 1000, NULL, 0), SWS_OK);
    CHECK_EQ_INT(sws_session_free(s), SWS_OK);
}

static void test_config_values(void) {
    sws_session_t *s = (sws_session_t *)&s; /* must be reset to NULL on failure */
    sws_session_config config;

    CHECK_EQ_INT(sws_session_new((sws_role)7, NULL, NULL, NULL, &s), SWS_ERR_INVALID_ARGUMENT);
    CHECK(s == NULL);

    size_t *limits[] = {&config.max_message_size, &config.max_frame_size, &config.max_fragments_per_message};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        size_t bad[] = {0, SWS_SESSION_LIMIT_MAX + 1, SIZE_MAX, SIZE_MAX / 2 + 1};
        for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
            sws_session_config_init(&config);
            *limits[i] = bad[j];
            s = (sws_session_t *)&s;
            CHECK_EQ_INT(sws_session_new(SWS_ROLE_SERVER, &config, NULL, NULL, &s), SWS_ERR_INVALID_ARGUMENT);
            CHECK(s == NULL);
        }
        sws_session_config_init(&config);
        *limits[i] = SWS_SESSION_LIMIT_MAX; /* the largest accepted */
        CHECK_EQ_INT(sws_session_new(SWS_ROLE_SERVER, &config, NULL, NULL, &s), SWS_OK);
        CHECK_EQ_INT(sws_session_free(s), SWS_OK);
    }
    sws_session_config_init(&config);
    config.streaming_threshold = SIZE_MAX;
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_SERVER, &config, NULL, NULL, &s), SWS_ERR_INVALID_ARGUMENT);

    /* Defaults as documented. */
    sws_session_config_init(&config);
    CHECK_EQ_INT(config.size, sizeof config);
    CHECK_EQ_INT(config.max_message_size, 16u << 20);
    CHECK_EQ_INT(config.max_frame_size, 16u << 20);
    CHECK_EQ_INT(config.max_fragments_per_message, 131072);
    CHECK_EQ_INT(config.streaming_threshold, 0);
    CHECK(config.auto_pong);
}

/* The `size` field: too small is refused; larger (a newer program) is accepted only with a zero
 * tail. */
static void test_struct_sizes(void) {
    sws_session_t *s = NULL;
    sws_session_config config;
    sws_session_config_init(&config);
    config.size = 0; /* not initialised */
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_SERVER, &config, NULL, NULL, &s), SWS_ERR_INVALID_ARGUMENT);
    config.size = 47; /* smaller than the first published version (ABI 1: 48 bytes) */
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_SERVER, &config, NULL, NULL, &s), SWS_ERR_INVALID_ARGUMENT);
    config.size = 48; /* a program built against ABI 1: inflate_budget keeps its default */
    config.inflate_budget = 0;
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_SERVER, &config, NULL, NULL, &s), SWS_OK);
    sws_session_free(s);
    s = NULL;
    sws_session_config_init(&config);
    config.inflate_budget = 0; /* read from a whole struct: 1 ... 2^48 */
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_SERVER, &config, NULL, NULL, &s), SWS_ERR_INVALID_ARGUMENT);
    sws_session_config_init(&config);
    config.size = (size_t)1 << 40; /* garbage */
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_SERVER, &config, NULL, NULL, &s), SWS_ERR_INVALID_ARGUMENT);

    struct { sws_session_config known; uint64_t future_field; } newer;
    memset(&newer, 0, sizeof newer);
    sws_session_config_init(&newer.known);
    newer.known.size = sizeof newer;
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_SERVER, &newer.known, NULL, NULL, &s), SWS_OK);
    CHECK_EQ_INT(sws_session_free(s), SWS_OK);
    newer.future_field = 1;
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_SERVER, &newer.known, NULL, NULL, &s), SWS_ERR_UNSUPPORTED);
    CHECK(s == NULL);

    sws_session_callbacks cb;
    sws_session_callbacks_init(&cb);
    CHECK_EQ_INT(cb.size, sizeof cb);
    CHECK(cb.on_text == NULL && cb.on_error == NULL);
    cb.size = 8;
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_SERVER, NULL, &cb, NULL, &s), SWS_ERR_INVALID_ARGUMENT);
}

static void test_send_after_close(void) {
    sws_session_t *s = NULL;
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_SERVER, NULL, NULL, NULL, &s), SWS_OK);
    /* Refused close arguments queue nothing and leave the session open. */
    CHECK_EQ_INT(sws_session_close(s, 1005, NULL, 0), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_close(s, 999, NULL, 0), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_close(s, 1000, "\xFF", 1), SWS_ERR_INVALID_ARGUMENT);
    char long_reason[124];
    memset(long_reason, 'r', sizeof long_reason);
    CHECK_EQ_INT(sws_session_close(s, 1000, long_reason, 124), SWS_ERR_TOO_BIG);
    CHECK_EQ_INT(sws_session_get_state(s), SWS_SESSION_OPEN);
    uint8_t big_ping[126] = {0};
    CHECK_EQ_INT(sws_session_send_ping(s, big_ping, 126), SWS_ERR_TOO_BIG);
    CHECK_EQ_INT(sws_session_send_pong(s, big_ping, 126), SWS_ERR_TOO_BIG);
    CHECK_EQ_INT(sws_session_send_ping(s, big_ping, 125), SWS_OK);
    CHECK_EQ_INT(sws_session_send_text(s, "\xC3\x28", 2), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_send_fragment(s, (sws_message_kind)9, "a", 1, true), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_send_fragment(s, SWS_MESSAGE_BINARY, "a", 1, false), SWS_OK);
    CHECK_EQ_INT(sws_session_send_text(s, "a", 1), SWS_ERR_INVALID_ARGUMENT);     /* fragment unfinished */
    CHECK_EQ_INT(sws_session_send_fragment(s, SWS_MESSAGE_TEXT, "a", 1, true), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_send_fragment(s, SWS_MESSAGE_BINARY, "b", 1, true), SWS_OK);

    CHECK_EQ_INT(sws_session_close(s, 1000, long_reason, 123), SWS_OK);
    CHECK_EQ_INT(sws_session_close(s, 1000, NULL, 0), SWS_ERR_CLOSED); /* double close */
    CHECK_EQ_INT(sws_session_send_text(s, "a", 1), SWS_ERR_CLOSED);
    CHECK_EQ_INT(sws_session_send_binary(s, "a", 1), SWS_ERR_CLOSED);
    CHECK_EQ_INT(sws_session_send_fragment(s, SWS_MESSAGE_TEXT, "a", 1, true), SWS_ERR_CLOSED);
    CHECK_EQ_INT(sws_session_send_ping(s, NULL, 0), SWS_ERR_CLOSED);
    CHECK_EQ_INT(sws_session_send_pong(s, NULL, 0), SWS_ERR_CLOSED);
    CHECK(strstr(sws_last_error(), "close") != NULL);
    CHECK_EQ_INT(sws_session_free(s), SWS_OK);
}

/* free twice: the second is refused, whatever happened to the memory in between. */
static void test_double_free(void) {
    sws_session_t *s = NULL;
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_CLIENT, NULL, NULL, NULL, &s), SWS_OK);
    CHECK_EQ_INT(sws_session_free(s), SWS_OK);
    CHECK_EQ_INT(sws_session_free(s), SWS_ERR_INVALID_ARGUMENT);
    int not_a_session = 0;
    CHECK_EQ_INT(sws_session_free((sws_session_t *)&not_a_session), SWS_ERR_INVALID_ARGUMENT);
}

/* Callbacks that try to feed or free their own session. */
struct reentry { sws_status feed_status, eof_status, free_status; int calls; };
static void reentering_on_text(sws_session_t *s, void *user, const char *data, size_t len) {
    struct reentry *r = user;
    char copy[16];
    memcpy(copy, data, len < sizeof copy ? len : sizeof copy);
    r->feed_status = sws_session_feed(s, copy, len < sizeof copy ? len : sizeof copy);
    r->eof_status = sws_session_feed_eof(s);
    r->free_status = sws_session_free(s);
    r->calls++;
}

static void test_reentry(void) {
    struct reentry r = {SWS_OK, SWS_OK, SWS_OK, 0};
    sws_session_callbacks cb;
    sws_session_callbacks_init(&cb);
    cb.on_text = reentering_on_text;
    sws_session_t *s = NULL;
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_SERVER, NULL, &cb, &r, &s), SWS_OK);
    uint8_t frame[] = {0x81, 0x82, 0, 0, 0, 0, 'h', 'i'};
    CHECK_EQ_INT(sws_session_feed(s, frame, sizeof frame), SWS_OK);
    CHECK_EQ_INT(r.calls, 1);
    CHECK_EQ_INT(r.feed_status, SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(r.eof_status, SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(r.free_status, SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_session_get_state(s), SWS_SESSION_OPEN);
    CHECK_EQ_INT(sws_session_free(s), SWS_OK);
}

int main(void) {
    test_null_handles();
    test_zero_sizes();
    test_config_values();
    test_struct_sizes();
    test_send_after_close();
    test_double_free();
    test_reentry();
    return check_summary("session_misuse_test");
}
