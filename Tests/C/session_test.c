/*
 * The sans-I/O session through the C API: a client session and a server session talk to each
 * other in memory (bytes moved with pump(), also one byte per feed), and hand-made frames check
 * the failures a peer can cause, each with its exact close code.
 */
#include "check.h"
#include "recorder.h"

static struct recorder client_log, server_log;
static sws_session_t *client, *server;

static void make_pair(const sws_session_config *server_config) {
    sws_session_callbacks cb = recording_callbacks();
    recorder_reset(&client_log);
    recorder_reset(&server_log);
    memset(&client_log, 0, sizeof client_log);
    memset(&server_log, 0, sizeof server_log);
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_CLIENT, NULL, &cb, &client_log, &client), SWS_OK);
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_SERVER, server_config, &cb, &server_log, &server), SWS_OK);
}

static void free_pair(void) {
    CHECK_EQ_INT(sws_session_free(client), SWS_OK);
    CHECK_EQ_INT(sws_session_free(server), SWS_OK);
    recorder_reset(&client_log);
    recorder_reset(&server_log);
}

/* Client -> server text, echoed by the server from inside on_text, back to the client. */
static void test_echo_round_trip(size_t chunk) {
    make_pair(NULL);
    server_log.echo = true;
    const char *hello = "h\xC3\xA9llo, w\xC3\xB6rld";
    CHECK_EQ_INT(sws_session_send_text(client, hello, strlen(hello)), SWS_OK);
    uint8_t blob[3000];
    for (size_t i = 0; i < sizeof blob; i++) blob[i] = (uint8_t)(i * 7);
    CHECK_EQ_INT(sws_session_send_binary(client, blob, sizeof blob), SWS_OK);
    CHECK_EQ_INT(sws_session_send_binary(client, NULL, 0), SWS_OK);
    CHECK(pump(client, server, chunk) > 0);
    CHECK_EQ_INT(server_log.count, 3);
    CHECK_EQ_INT(server_log.echo_status, SWS_OK);
    CHECK_EQ_INT(server_log.events[0].kind, EV_TEXT);
    CHECK_EQ_STR((const char *)server_log.events[0].data, hello);
    CHECK_EQ_INT(server_log.events[1].kind, EV_BINARY);
    CHECK_EQ_INT(server_log.events[1].len, sizeof blob);
    CHECK(memcmp(server_log.events[1].data, blob, sizeof blob) == 0);
    CHECK_EQ_INT(server_log.events[2].kind, EV_BINARY);
    CHECK_EQ_INT(server_log.events[2].len, 0);

    CHECK(pump(server, client, chunk) > 0);
    CHECK_EQ_INT(client_log.count, 3);
    CHECK_EQ_INT(client_log.events[0].kind, EV_TEXT);
    CHECK_EQ_STR((const char *)client_log.events[0].data, hello);
    CHECK_EQ_INT(client_log.events[1].len, sizeof blob);
    CHECK(memcmp(client_log.events[1].data, blob, sizeof blob) == 0);
    CHECK_EQ_INT(sws_session_get_state(client), SWS_SESSION_OPEN);
    CHECK(!sws_session_should_close_transport(client));
    free_pair();
}

/* A message sent in fragments arrives whole; ping/pong between fragments; streaming mode. */
static void test_fragments_and_control_frames(void) {
    make_pair(NULL);
    CHECK_EQ_INT(sws_session_send_fragment(client, SWS_MESSAGE_TEXT, "Hel\xC3", 4, false), SWS_OK);
    CHECK_EQ_INT(sws_session_send_ping(client, "p1", 2), SWS_OK);
    CHECK_EQ_INT(sws_session_send_fragment(client, SWS_MESSAGE_TEXT, "\xA9lo", 3, true), SWS_OK);
    pump(client, server, 1);
    CHECK_EQ_INT(server_log.count, 2);
    CHECK_EQ_INT(server_log.events[0].kind, EV_PING);
    CHECK_EQ_STR((const char *)server_log.events[0].data, "p1");
    CHECK_EQ_INT(server_log.events[1].kind, EV_TEXT);
    CHECK_EQ_STR((const char *)server_log.events[1].data, "Hel\xC3\xA9lo");
    pump(server, client, 5); /* the automatic pong */
    CHECK_EQ_INT(client_log.count, 1);
    CHECK_EQ_INT(client_log.events[0].kind, EV_PONG);
    CHECK_EQ_STR((const char *)client_log.events[0].data, "p1");
    free_pair();

    /* Streaming: above the threshold, frames arrive one by one through on_fragment. */
    sws_session_config config;
    sws_session_config_init(&config);
    config.streaming_threshold = 4;
    make_pair(&config);
    CHECK_EQ_INT(sws_session_send_fragment(client, SWS_MESSAGE_BINARY, "abcdef", 6, false), SWS_OK);
    CHECK_EQ_INT(sws_session_send_fragment(client, SWS_MESSAGE_BINARY, "gh", 2, true), SWS_OK);
    pump(client, server, 1000);
    CHECK_EQ_INT(server_log.count, 2);
    CHECK_EQ_INT(server_log.events[0].kind, EV_FRAGMENT);
    CHECK_EQ_INT(server_log.events[0].fragment_kind, SWS_MESSAGE_BINARY);
    CHECK_EQ_STR((const char *)server_log.events[0].data, "abcdef");
    CHECK(server_log.events[0].is_first && !server_log.events[0].is_final);
    CHECK_EQ_STR((const char *)server_log.events[1].data, "gh");
    CHECK(!server_log.events[1].is_first && server_log.events[1].is_final);
    free_pair();

    /* auto_pong off: the ping is reported, nothing is queued. */
    sws_session_config_init(&config);
    config.auto_pong = false;
    make_pair(&config);
    sws_session_send_ping(client, NULL, 0);
    pump(client, server, 100);
    CHECK_EQ_INT(server_log.count, 1);
    CHECK_EQ_INT(server_log.events[0].kind, EV_PING);
    CHECK_EQ_INT(pump(server, client, 100), 0);
    free_pair();
}

/* The close handshake, client first: codes, reasons, states, who closes TCP first. */
static void test_close_handshake(void) {
    make_pair(NULL);
    CHECK_EQ_INT(sws_session_close(client, 1001, "bye", 3), SWS_OK);
    CHECK_EQ_INT(sws_session_get_state(client), SWS_SESSION_CLOSING);
    pump(client, server, 2);
    CHECK_EQ_INT(server_log.count, 1);
    CHECK_EQ_INT(server_log.events[0].kind, EV_CLOSE);
    CHECK_EQ_INT(server_log.events[0].code, 1001);
    CHECK_EQ_STR((const char *)server_log.events[0].data, "bye");
    CHECK_EQ_INT(sws_session_get_state(server), SWS_SESSION_CLOSED);
    CHECK(sws_session_should_close_transport(server));
    CHECK(sws_session_closes_transport_first(server));
    pump(server, client, 2); /* the echoed close */
    CHECK_EQ_INT(client_log.count, 1);
    CHECK_EQ_INT(client_log.events[0].kind, EV_CLOSE);
    CHECK_EQ_INT(client_log.events[0].code, 1001);
    CHECK(sws_session_should_close_transport(client));
    CHECK(!sws_session_closes_transport_first(client)); /* RFC 6455 7.1.1: the server closes first */

    uint16_t code = 0;
    const char *reason = NULL;
    size_t reason_len = 99;
    CHECK_EQ_INT(sws_session_close_status(server, &code, &reason, &reason_len), SWS_OK);
    CHECK_EQ_INT(code, 1001);
    CHECK_EQ_INT(reason_len, 3);
    CHECK(reason != NULL && memcmp(reason, "bye", 3) == 0);
    /* Then the server's end of stream reaches the client: no error after a clean close. */
    CHECK_EQ_INT(sws_session_feed_eof(client), SWS_OK);
    CHECK_EQ_INT(client_log.count, 1);
    free_pair();

    /* A close frame without a code is reported as 1005 and answered with an empty close. */
    make_pair(NULL);
    uint8_t empty_close[] = {0x88, 0x80, 1, 2, 3, 4};
    CHECK_EQ_INT(sws_session_feed(server, empty_close, sizeof empty_close), SWS_OK);
    CHECK_EQ_INT(server_log.events[0].code, SWS_CLOSE_NO_STATUS);
    const uint8_t *out;
    size_t len;
    sws_session_pending_output(server, &out, &len);
    CHECK_EQ_INT(len, 2);
    CHECK(len == 2 && out[0] == 0x88 && out[1] == 0x00);
    free_pair();
}

/* Checks that `session` failed with `code`: one on_error, state closed, a close frame with the
 * code queued (server role: unmasked, so the code is at bytes 2..3). */
static void check_failed_with(struct recorder *log, sws_session_t *session, uint16_t code) {
    CHECK_EQ_INT(log->count, 1);
    CHECK_EQ_INT(log->events[0].kind, EV_ERROR);
    CHECK_EQ_INT(log->events[0].code, code);
    CHECK(log->events[0].len > 0); /* a reason is given */
    CHECK_EQ_INT(sws_session_get_state(session), SWS_SESSION_CLOSED);
    CHECK(sws_session_should_close_transport(session));
    CHECK(sws_session_closes_transport_first(session));
    const uint8_t *out;
    size_t len;
    CHECK_EQ_INT(sws_session_pending_output(session, &out, &len), SWS_OK);
    CHECK(len >= 4 && out[0] == 0x88 && ((out[2] << 8) | out[3]) == code);
    uint16_t status_code = 0;
    CHECK_EQ_INT(sws_session_close_status(session, &status_code, NULL, NULL), SWS_OK);
    CHECK_EQ_INT(status_code, code);
    /* Later input is refused. */
    uint8_t more[] = {0x81, 0x80, 0, 0, 0, 0};
    CHECK_EQ_INT(sws_session_feed(session, more, sizeof more), SWS_ERR_CLOSED);
    CHECK_EQ_INT(log->count, 1);
}

static void test_peer_failures(void) {
    /* Unmasked frame from a client: 1002 (RFC 6455 section 5.1). */
    make_pair(NULL);
    uint8_t unmasked[] = {0x81, 0x02, 'h', 'i'};
    CHECK_EQ_INT(sws_session_feed(server, unmasked, sizeof unmasked), SWS_OK);
    check_failed_with(&server_log, server, 1002);
    free_pair();

    /* Invalid UTF-8 in a text message: 1007 (section 8.1). Mask key 0 keeps bytes readable. */
    make_pair(NULL);
    uint8_t bad_text[] = {0x81, 0x82, 0, 0, 0, 0, 0xC3, 0x28};
    CHECK_EQ_INT(sws_session_feed(server, bad_text, sizeof bad_text), SWS_OK);
    check_failed_with(&server_log, server, 1007);
    free_pair();

    /* A message over max_message_size: 1009, before its payload arrives. */
    sws_session_config config;
    sws_session_config_init(&config);
    config.max_message_size = 10;
    make_pair(&config);
    uint8_t too_big[] = {0x82, 0x8B, 0, 0, 0, 0};
    CHECK_EQ_INT(sws_session_feed(server, too_big, sizeof too_big), SWS_OK);
    check_failed_with(&server_log, server, 1009);
    free_pair();

    /* Reserved opcode 0x3: 1002. */
    make_pair(NULL);
    uint8_t reserved[] = {0x83, 0x80, 0, 0, 0, 0};
    sws_session_feed(server, reserved, sizeof reserved);
    check_failed_with(&server_log, server, 1002);
    free_pair();

    /* End of stream without a close frame: 1006 reported, no close frame queued. */
    make_pair(NULL);
    CHECK_EQ_INT(sws_session_feed_eof(server), SWS_OK);
    CHECK_EQ_INT(server_log.count, 1);
    CHECK_EQ_INT(server_log.events[0].kind, EV_ERROR);
    CHECK_EQ_INT(server_log.events[0].code, SWS_CLOSE_ABNORMAL);
    const uint8_t *out;
    size_t len = 99;
    sws_session_pending_output(server, &out, &len);
    CHECK_EQ_INT(len, 0);
    CHECK_EQ_INT(sws_session_feed_eof(server), SWS_ERR_CLOSED);
    CHECK_EQ_INT(sws_session_send_text(server, "x", 1), SWS_ERR_CLOSED);
    free_pair();
}

/* Output is consumed piecewise, as a short write() would. */
static void test_partial_consume(void) {
    make_pair(NULL);
    sws_session_send_text(server, "abcdef", 6);
    const uint8_t *out;
    size_t len;
    sws_session_pending_output(server, &out, &len);
    CHECK_EQ_INT(len, 8);
    CHECK_EQ_INT(sws_session_consume_output(server, 3), SWS_OK);
    sws_session_pending_output(server, &out, &len);
    CHECK_EQ_INT(len, 5);
    CHECK(len == 5 && memcmp(out, "bcdef", 5) == 0);
    CHECK_EQ_INT(sws_session_consume_output(server, 5), SWS_OK);
    sws_session_pending_output(server, &out, &len);
    CHECK_EQ_INT(len, 0);
    free_pair();
}

/* A client session with fixed mask keys writes exactly RFC 6455 section 5.7's masked "Hello",
 * the next frame with the next key, and a server ignores the keys (servers never mask). */
static void test_fixed_mask_keys(void) {
    static const uint8_t keys[8] = {0x37, 0xfa, 0x21, 0x3d, 0x01, 0x02, 0x03, 0x04};
    sws_session_config config;
    sws_session_config_init(&config);
    CHECK(config.mask_keys == NULL && config.mask_key_count == 0);
    config.mask_keys = keys;
    config.mask_key_count = 2;
    sws_session_callbacks cb = recording_callbacks();
    sws_session_t *session = NULL;
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_CLIENT, &config, &cb, &client_log, &session), SWS_OK);
    CHECK_EQ_INT(sws_session_send_text(session, "Hello", 5), SWS_OK);
    CHECK_EQ_INT(sws_session_send_binary(session, "\x00", 1), SWS_OK);
    const uint8_t *out = NULL;
    size_t len = 0;
    CHECK_EQ_INT(sws_session_pending_output(session, &out, &len), SWS_OK);
    static const uint8_t expected[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
                                       0x82, 0x81, 0x01, 0x02, 0x03, 0x04, 0x01};
    CHECK_EQ_INT(len, sizeof expected);
    CHECK(len == sizeof expected && memcmp(out, expected, len) == 0);
    CHECK_EQ_INT(sws_session_free(session), SWS_OK);
    /* Server role: unmasked whatever the keys say. */
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_SERVER, &config, &cb, &server_log, &session), SWS_OK);
    CHECK_EQ_INT(sws_session_send_text(session, "Hello", 5), SWS_OK);
    CHECK_EQ_INT(sws_session_pending_output(session, &out, &len), SWS_OK);
    CHECK(len == 7 && out[0] == 0x81 && out[1] == 0x05);
    CHECK_EQ_INT(sws_session_free(session), SWS_OK);
    /* Keys NULL with a count: refused. */
    config.mask_keys = NULL;
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_CLIENT, &config, &cb, &client_log, &session), SWS_ERR_INVALID_ARGUMENT);
    recorder_reset(&client_log);
    recorder_reset(&server_log);
}

int main(void) {
    test_fixed_mask_keys();
    test_echo_round_trip(1 << 20);
    test_echo_round_trip(1);
    test_echo_round_trip(7);
    test_fragments_and_control_frames();
    test_close_handshake();
    test_peer_failures();
    test_partial_consume();
    return check_summary("session_test");
}
