/*
 * The opening handshake helpers through the C API: a client handshake and a server handshake
 * complete an upgrade in memory (byte by byte), then sessions created from them exchange a
 * message that arrived in the same chunk as the heads; rejections carry their exact HTTP status;
 * misuse returns the documented status.
 */
#include "check.h"
#include "recorder.h"

static bool starts_with(const uint8_t *data, size_t len, const char *prefix) {
    size_t n = strlen(prefix);
    return data != NULL && len >= n && memcmp(data, prefix, n) == 0;
}

static sws_client_handshake_t *make_client(const char *const *subprotocols, size_t count) {
    static const char *const names[] = {"X-Token"};
    static const char *const values[] = {"abc"};
    sws_client_handshake_config config;
    CHECK_EQ_INT(sws_client_handshake_config_init(&config), SWS_OK);
    config.host = "example.com";
    config.port = 9000;
    config.path = "/chat?room=1";
    config.origin = "https://example.com";
    config.subprotocols = subprotocols;
    config.subprotocol_count = count;
    config.header_names = names;
    config.header_values = values;
    config.header_count = 1;
    sws_client_handshake_t *client = NULL;
    CHECK_EQ_INT(sws_client_handshake_new(&config, &client), SWS_OK);
    return client;
}

static void test_upgrade_then_session(void) {
    static const char *const offered[] = {"v2.chat", "v1.chat"};
    sws_client_handshake_t *client = make_client(offered, 2);
    const uint8_t *request;
    size_t request_len;
    CHECK_EQ_INT(sws_client_handshake_request(client, &request, &request_len), SWS_OK);
    CHECK(starts_with(request, request_len, "GET /chat?room=1 HTTP/1.1\r\n"));

    /* The client's first frame travels in the same chunk as its request. */
    sws_session_t *client_session = NULL;
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_CLIENT, NULL, NULL, NULL, &client_session), SWS_OK);
    sws_session_send_text(client_session, "first", 5);
    const uint8_t *frame;
    size_t frame_len;
    sws_session_pending_output(client_session, &frame, &frame_len);
    uint8_t wire[2048];
    CHECK(request_len + frame_len <= sizeof wire);
    memcpy(wire, request, request_len);
    memcpy(wire + request_len, frame, frame_len);
    sws_session_consume_output(client_session, frame_len);
    size_t wire_len = request_len + frame_len;

    sws_server_handshake_t *server = NULL;
    CHECK_EQ_INT(sws_server_handshake_new(NULL, &server), SWS_OK);
    size_t offset = 0, consumed = 0;
    bool complete = false;
    while (!complete && offset < wire_len) { /* one byte per feed */
        CHECK_EQ_INT(sws_server_handshake_feed(server, wire + offset, 1, &consumed, &complete), SWS_OK);
        offset += consumed;
    }
    CHECK(complete);
    CHECK_EQ_INT(offset, request_len);

    const char *target, *path, *value;
    size_t target_len, path_len, value_len;
    CHECK_EQ_INT(sws_server_handshake_target(server, &target, &target_len, &path, &path_len), SWS_OK);
    CHECK_EQ_STR(target, "/chat?room=1");
    CHECK_EQ_INT(target_len, 12);
    CHECK_EQ_STR(path, "/chat");
    CHECK_EQ_INT(sws_server_handshake_header(server, "x-token", &value, &value_len), SWS_OK);
    CHECK_EQ_STR(value, "abc");
    CHECK_EQ_INT(sws_server_handshake_header(server, "Host", &value, &value_len), SWS_OK);
    CHECK_EQ_STR(value, "example.com:9000");
    CHECK_EQ_INT(sws_server_handshake_header(server, "Origin", &value, &value_len), SWS_OK);
    CHECK_EQ_STR(value, "https://example.com");
    CHECK_EQ_INT(sws_server_handshake_header(server, "X-Absent", &value, &value_len), SWS_OK);
    CHECK(value == NULL && value_len == 0);
    CHECK_EQ_INT(sws_server_handshake_subprotocol_count(server), 2);
    const char *name;
    size_t name_len;
    CHECK_EQ_INT(sws_server_handshake_subprotocol(server, 1, &name, &name_len), SWS_OK);
    CHECK_EQ_STR(name, "v1.chat");
    CHECK_EQ_INT(sws_server_handshake_subprotocol(server, 2, &name, &name_len), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_accept(server, "v3.chat"), SWS_ERR_INVALID_ARGUMENT); /* not offered */
    CHECK_EQ_INT(sws_server_handshake_accept(server, "v1.chat"), SWS_OK);
    CHECK_EQ_INT(sws_server_handshake_accept(server, "v1.chat"), SWS_ERR_INVALID_ARGUMENT); /* twice */

    /* The rest of the chunk is the server session's first input. */
    struct recorder server_log;
    memset(&server_log, 0, sizeof server_log);
    sws_session_callbacks cb = recording_callbacks();
    sws_session_t *server_session = NULL;
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_SERVER, NULL, &cb, &server_log, &server_session), SWS_OK);
    CHECK_EQ_INT(sws_session_feed(server_session, wire + offset, wire_len - offset), SWS_OK);
    CHECK_EQ_INT(server_log.count, 1);
    CHECK_EQ_STR((const char *)server_log.events[0].data, "first");

    /* The 101 and the server's first frame reach the client together. */
    const uint8_t *response;
    size_t response_len;
    CHECK_EQ_INT(sws_server_handshake_response(server, &response, &response_len), SWS_OK);
    CHECK(starts_with(response, response_len, "HTTP/1.1 101 Switching Protocols\r\n"));
    sws_session_send_text(server_session, "welcome", 7);
    sws_session_pending_output(server_session, &frame, &frame_len);
    memcpy(wire, response, response_len);
    memcpy(wire + response_len, frame, frame_len);
    wire_len = response_len + frame_len;
    sws_session_consume_output(server_session, frame_len);

    CHECK_EQ_INT(sws_client_handshake_http_status(client), 0);
    CHECK_EQ_INT(sws_client_handshake_feed(client, wire, wire_len, &consumed, &complete), SWS_OK);
    CHECK(complete);
    CHECK_EQ_INT(consumed, response_len);
    CHECK_EQ_INT(sws_client_handshake_http_status(client), 101);
    CHECK_EQ_INT(sws_client_handshake_subprotocol(client, &name, &name_len), SWS_OK);
    CHECK_EQ_STR(name, "v1.chat");
    CHECK_EQ_INT(sws_client_handshake_feed(client, wire, 1, &consumed, &complete), SWS_ERR_INVALID_ARGUMENT);

    struct recorder client_log;
    memset(&client_log, 0, sizeof client_log);
    sws_session_t *client_reader = NULL;
    CHECK_EQ_INT(sws_session_new(SWS_ROLE_CLIENT, NULL, &cb, &client_log, &client_reader), SWS_OK);
    sws_session_feed(client_reader, wire + consumed, wire_len - consumed);
    CHECK_EQ_INT(client_log.count, 1);
    CHECK_EQ_STR((const char *)client_log.events[0].data, "welcome");

    recorder_reset(&server_log);
    recorder_reset(&client_log);
    CHECK_EQ_INT(sws_session_free(client_reader), SWS_OK);
    CHECK_EQ_INT(sws_session_free(client_session), SWS_OK);
    CHECK_EQ_INT(sws_session_free(server_session), SWS_OK);
    CHECK_EQ_INT(sws_server_handshake_free(server), SWS_OK);
    CHECK_EQ_INT(sws_client_handshake_free(client), SWS_OK);
}

/* A malformed request fails the feed with SWS_ERR_HANDSHAKE and a ready rejection. */
static void check_request_rejected(const char *request, const char *status_line) {
    sws_server_handshake_t *server = NULL;
    sws_server_handshake_new(NULL, &server);
    size_t consumed;
    bool complete = true;
    CHECK_EQ_INT(sws_server_handshake_feed(server, request, strlen(request), &consumed, &complete), SWS_ERR_HANDSHAKE);
    CHECK(!complete);
    const uint8_t *response;
    size_t len;
    CHECK_EQ_INT(sws_server_handshake_response(server, &response, &len), SWS_OK);
    CHECK(starts_with(response, len, status_line));
    if (!starts_with(response, len, status_line)) fprintf(stderr, "  expected %s for: %s\n", status_line, request);
    CHECK_EQ_INT(sws_server_handshake_feed(server, "x", 1, &consumed, &complete), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_accept(server, NULL), SWS_ERR_INVALID_ARGUMENT);
    sws_server_handshake_free(server);
}

static void test_rejections(void) {
    const char *key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    char request[512];
    snprintf(request, sizeof request, "POST / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n%s"
             "Sec-WebSocket-Version: 13\r\n\r\n", key);
    check_request_rejected(request, "HTTP/1.1 405 ");
    snprintf(request, sizeof request, "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n%s"
             "Sec-WebSocket-Version: 8\r\n\r\n", key);
    check_request_rejected(request, "HTTP/1.1 426 ");
    check_request_rejected("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1 400 ");
    check_request_rejected("\x01\x02garbage\r\n\r\n", "HTTP/1.1 400 ");
    static char huge[10000];
    memset(huge, 'a', sizeof huge - 1);
    memcpy(huge, "GET / HTTP/1.1\r\nX: ", 19);
    check_request_rejected(huge, "HTTP/1.1 431 ");

    /* The application refuses with its own status; the client sees it. */
    sws_client_handshake_t *client = make_client(NULL, 0);
    const uint8_t *request_bytes;
    size_t request_len, consumed;
    bool complete;
    sws_client_handshake_request(client, &request_bytes, &request_len);
    sws_server_handshake_t *server = NULL;
    sws_server_handshake_new(NULL, &server);
    CHECK_EQ_INT(sws_server_handshake_feed(server, request_bytes, request_len, &consumed, &complete), SWS_OK);
    CHECK(complete);
    CHECK_EQ_INT(sws_server_handshake_reject(server, 99, NULL, 0), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_reject(server, 600, NULL, 0), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_reject(server, 403, NULL, 7), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_reject(server, 403, "go away", 7), SWS_OK);
    CHECK_EQ_INT(sws_server_handshake_reject(server, 403, "go away", 7), SWS_ERR_INVALID_ARGUMENT);
    const uint8_t *response;
    size_t response_len;
    sws_server_handshake_response(server, &response, &response_len);
    CHECK(starts_with(response, response_len, "HTTP/1.1 403 Forbidden\r\n"));
    CHECK_EQ_INT(sws_client_handshake_feed(client, response, response_len, &consumed, &complete), SWS_ERR_HANDSHAKE);
    CHECK_EQ_INT(sws_client_handshake_http_status(client), 403);
    CHECK(strstr(sws_last_error(), "403") != NULL);
    const char *name;
    size_t name_len;
    CHECK_EQ_INT(sws_client_handshake_subprotocol(client, &name, &name_len), SWS_ERR_INVALID_ARGUMENT);
    sws_server_handshake_free(server);
    sws_client_handshake_free(client);

    /* A 101 whose Sec-WebSocket-Accept does not match the key. */
    client = make_client(NULL, 0);
    const char *forged = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    CHECK_EQ_INT(sws_client_handshake_feed(client, forged, strlen(forged), &consumed, &complete), SWS_ERR_HANDSHAKE);
    CHECK_EQ_INT(sws_client_handshake_http_status(client), 101);
    sws_client_handshake_free(client);
}

static void test_misuse(void) {
    size_t consumed;
    bool complete;
    const uint8_t *data;
    size_t len;
    const char *text;
    CHECK_EQ_INT(sws_server_handshake_new(NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_free(NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_feed(NULL, "a", 1, &consumed, &complete), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_response(NULL, &data, &len), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_target(NULL, &text, &len, NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_header(NULL, "Host", &text, &len), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_subprotocol_count(NULL), 0);
    CHECK_EQ_INT(sws_server_handshake_accept(NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_reject(NULL, 400, NULL, 0), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_client_handshake_config_init(NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_client_handshake_free(NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_client_handshake_request(NULL, &data, &len), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_client_handshake_feed(NULL, "a", 1, &consumed, &complete), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_client_handshake_http_status(NULL), 0);
    CHECK_EQ_INT(sws_client_handshake_subprotocol(NULL, &text, &len), SWS_ERR_INVALID_ARGUMENT);

    sws_server_handshake_t *server = NULL;
    CHECK_EQ_INT(sws_server_handshake_new(NULL, &server), SWS_OK);
    CHECK_EQ_INT(sws_server_handshake_feed(server, NULL, 0, &consumed, &complete), SWS_OK);
    CHECK(!complete);
    CHECK_EQ_INT(sws_server_handshake_feed(server, NULL, 3, &consumed, &complete), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_feed(server, "GET", 3, NULL, &complete), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_feed(server, "GET", 3, &consumed, NULL), SWS_ERR_INVALID_ARGUMENT);
    /* Getters and answers before the request is complete. */
    CHECK_EQ_INT(sws_server_handshake_target(server, &text, &len, NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_header(server, "Host", &text, &len), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_accept(server, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_reject(server, 400, NULL, 0), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_response(server, &data, &len), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_free(server), SWS_OK);
    CHECK_EQ_INT(sws_server_handshake_free(server), SWS_ERR_INVALID_ARGUMENT); /* double free */

    sws_client_handshake_t *client = (sws_client_handshake_t *)&client;
    sws_client_handshake_config config;
    CHECK_EQ_INT(sws_client_handshake_new(NULL, &client), SWS_ERR_INVALID_ARGUMENT);
    CHECK(client == NULL);
    sws_client_handshake_config_init(&config);
    CHECK_EQ_INT(sws_client_handshake_new(&config, NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_client_handshake_new(&config, &client), SWS_ERR_INVALID_ARGUMENT); /* no host */
    const char *bad_hosts[] = {"", "a b", "example.com:80", "exa\rmple.com", "[::1"};
    for (size_t i = 0; i < sizeof bad_hosts / sizeof bad_hosts[0]; i++) {
        config.host = bad_hosts[i];
        CHECK_EQ_INT(sws_client_handshake_new(&config, &client), SWS_ERR_INVALID_ARGUMENT);
    }
    config.host = "::1";
    CHECK_EQ_INT(sws_client_handshake_new(&config, &client), SWS_OK);
    sws_client_handshake_request(client, &data, &len);
    CHECK(len > 0 && strstr((const char *)data, "Host: [::1]\r\n") != NULL);
    CHECK_EQ_INT(sws_client_handshake_free(client), SWS_OK);
    CHECK_EQ_INT(sws_client_handshake_free(client), SWS_ERR_INVALID_ARGUMENT);

    config.path = "no-slash";
    CHECK_EQ_INT(sws_client_handshake_new(&config, &client), SWS_ERR_INVALID_ARGUMENT);
    config.path = "/a b";
    CHECK_EQ_INT(sws_client_handshake_new(&config, &client), SWS_ERR_INVALID_ARGUMENT);
    config.path = "/ok";
    config.subprotocol_count = 2; /* array NULL */
    CHECK_EQ_INT(sws_client_handshake_new(&config, &client), SWS_ERR_INVALID_ARGUMENT);
    const char *not_tokens[] = {"chat", "a b"};
    config.subprotocols = not_tokens;
    CHECK_EQ_INT(sws_client_handshake_new(&config, &client), SWS_ERR_INVALID_ARGUMENT);
    config.subprotocol_count = 0;
    const char *names[] = {"X-Evil"};
    const char *values[] = {"a\r\nInjected: yes"};
    config.header_names = names;
    config.header_values = values;
    config.header_count = 1;
    CHECK_EQ_INT(sws_client_handshake_new(&config, &client), SWS_ERR_INVALID_ARGUMENT);
    config.header_count = 0;
    config.origin = "\xFF\xFE";
    CHECK_EQ_INT(sws_client_handshake_new(&config, &client), SWS_ERR_INVALID_ARGUMENT);
    config.origin = NULL;
    config.size = 4;
    CHECK_EQ_INT(sws_client_handshake_new(&config, &client), SWS_ERR_INVALID_ARGUMENT);
    CHECK(client == NULL);
}

/* Runs a client and a server handshake with the given compression configs (NULL: defaults) and
 * makes both sessions. Returns false if the handshake failed. */
static bool upgrade(const sws_compression_config *client_compression, const sws_compression_config *server_compression,
                    sws_session_callbacks *cb, struct recorder *client_log, struct recorder *server_log,
                    sws_session_t **client_session, sws_session_t **server_session,
                    bool *client_compresses, bool *server_compresses) {
    sws_client_handshake_config config;
    sws_client_handshake_config_init(&config);
    config.host = "localhost";
    config.compression = client_compression;
    sws_client_handshake_t *client = NULL;
    sws_server_handshake_t *server = NULL;
    CHECK_EQ_INT(sws_client_handshake_new(&config, &client), SWS_OK);
    CHECK_EQ_INT(sws_server_handshake_new(server_compression, &server), SWS_OK);
    const uint8_t *bytes;
    size_t len, consumed;
    bool complete = false;
    sws_client_handshake_request(client, &bytes, &len);
    CHECK(strstr((const char *)bytes, "permessage-deflate") != NULL || (client_compression && !client_compression->enabled));
    CHECK_EQ_INT(sws_server_handshake_feed(server, bytes, len, &consumed, &complete), SWS_OK);
    CHECK_EQ_INT(sws_server_handshake_new_session(server, NULL, cb, server_log, server_session), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_server_handshake_accept(server, NULL), SWS_OK);
    sws_server_handshake_response(server, &bytes, &len);
    sws_status status = sws_client_handshake_feed(client, bytes, len, &consumed, &complete);
    bool ok = status == SWS_OK && complete;
    if (ok) {
        *client_compresses = sws_client_handshake_compression(client);
        *server_compresses = sws_server_handshake_compression(server);
        CHECK_EQ_INT(sws_client_handshake_new_session(client, NULL, cb, client_log, client_session), SWS_OK);
        sws_session_t *second = NULL;
        CHECK_EQ_INT(sws_client_handshake_new_session(client, NULL, cb, client_log, &second), SWS_ERR_INVALID_ARGUMENT);
        CHECK(second == NULL);
        CHECK_EQ_INT(sws_server_handshake_new_session(server, NULL, cb, server_log, server_session), SWS_OK);
    }
    /* The sessions outlive their handshakes. */
    sws_client_handshake_free(client);
    sws_server_handshake_free(server);
    return ok;
}

static void test_compression(void) {
    sws_session_callbacks cb = recording_callbacks();
    struct recorder client_log, server_log;
    memset(&client_log, 0, sizeof client_log);
    memset(&server_log, 0, sizeof server_log);
    sws_session_t *client_session = NULL, *server_session = NULL;
    bool client_compresses = false, server_compresses = false;

    /* Defaults on both sides: agreed; a repetitive message travels compressed (RSV1) and arrives intact. */
    CHECK(upgrade(NULL, NULL, &cb, &client_log, &server_log, &client_session, &server_session,
                  &client_compresses, &server_compresses));
    CHECK(client_compresses && server_compresses);
    char text[10000];
    for (size_t i = 0; i < sizeof text; i++) text[i] = "websocket "[i % 10];
    CHECK_EQ_INT(sws_session_send_text(client_session, text, sizeof text), SWS_OK);
    const uint8_t *out;
    size_t len;
    sws_session_pending_output(client_session, &out, &len);
    CHECK(len > 0 && out[0] == 0xC1); /* FIN + RSV1 + text */
    CHECK(len < 1000);
    pump(client_session, server_session, 3);
    CHECK_EQ_INT(server_log.count, 1);
    CHECK_EQ_INT(server_log.events[0].len, sizeof text);
    CHECK(server_log.events[0].len == sizeof text && memcmp(server_log.events[0].data, text, sizeof text) == 0);
    /* Short messages stay uncompressed (threshold 64). */
    sws_session_send_text(server_session, "hi", 2);
    sws_session_pending_output(server_session, &out, &len);
    CHECK(len == 4 && out[0] == 0x81);
    pump(server_session, client_session, 1);
    CHECK_EQ_INT(client_log.count, 1);
    CHECK_EQ_STR((const char *)client_log.events[0].data, "hi");
    recorder_reset(&client_log);
    recorder_reset(&server_log);
    sws_session_free(client_session);
    sws_session_free(server_session);

    /* Server with compression off: declined, the connection works uncompressed. */
    sws_compression_config off;
    CHECK_EQ_INT(sws_compression_config_init(&off), SWS_OK);
    CHECK(off.enabled && off.local_max_window_bits == 12 && off.remote_max_window_bits == 12 && off.memory_level == 5);
    off.enabled = false;
    CHECK(upgrade(NULL, &off, &cb, &client_log, &server_log, &client_session, &server_session,
                  &client_compresses, &server_compresses));
    CHECK(!client_compresses && !server_compresses);
    sws_session_send_text(client_session, text, sizeof text);
    sws_session_pending_output(client_session, &out, &len);
    CHECK(len > sizeof text && out[0] == 0x81);
    sws_session_free(client_session);
    sws_session_free(server_session);

    /* Out-of-range values are refused. */
    sws_server_handshake_t *server = (sws_server_handshake_t *)&server;
    sws_compression_config bad;
    int *fields[] = {&bad.local_max_window_bits, &bad.remote_max_window_bits, &bad.memory_level, &bad.compression_level};
    int values[] = {7, 16, 0, 10};
    for (size_t i = 0; i < 4; i++) {
        sws_compression_config_init(&bad);
        *fields[i] = values[i];
        CHECK_EQ_INT(sws_server_handshake_new(&bad, &server), SWS_ERR_INVALID_ARGUMENT);
        CHECK(server == NULL);
    }
    sws_compression_config_init(&bad);
    bad.remote_max_window_bits = 0; /* "do not ask" is fine */
    bad.threshold = SIZE_MAX;
    CHECK_EQ_INT(sws_server_handshake_new(&bad, &server), SWS_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(sws_compression_config_init(NULL), SWS_ERR_INVALID_ARGUMENT);
    CHECK(!sws_server_handshake_compression(NULL));
    CHECK(!sws_client_handshake_compression(NULL));
    sws_session_t *s = (sws_session_t *)&s;
    CHECK_EQ_INT(sws_server_handshake_new_session(NULL, NULL, NULL, NULL, &s), SWS_ERR_INVALID_ARGUMENT);
    CHECK(s == NULL);
    CHECK_EQ_INT(sws_client_handshake_new_session(NULL, NULL, NULL, NULL, NULL), SWS_ERR_INVALID_ARGUMENT);
}

/* The text of the client request a compression config makes (static buffer). */
static const char *client_request_text(const sws_compression_config *compression) {
    static char text[2048];
    sws_client_handshake_config config;
    sws_client_handshake_config_init(&config);
    config.host = "example.com";
    config.compression = compression;
    sws_client_handshake_t *client = NULL;
    CHECK_EQ_INT(sws_client_handshake_new(&config, &client), SWS_OK);
    const uint8_t *request = NULL;
    size_t len = 0;
    CHECK_EQ_INT(sws_client_handshake_request(client, &request, &len), SWS_OK);
    len = len < sizeof text - 1 ? len : sizeof text - 1;
    memcpy(text, request, len);
    text[len] = 0;
    sws_client_handshake_free(client);
    return text;
}

/* The default offer is the interoperable one (client_max_window_bits without a value); an
 * announced window is offered as a value and a larger answer fails the handshake. */
static void test_client_window_offer(void) {
    const char *text = client_request_text(NULL);
    CHECK(strstr(text, "client_max_window_bits") != NULL);
    CHECK(strstr(text, "client_max_window_bits=") == NULL);
    sws_compression_config announced;
    sws_compression_config_init(&announced);
    CHECK(!announced.announce_local_max_window_bits);
    announced.announce_local_max_window_bits = true;
    text = client_request_text(&announced);
    CHECK(strstr(text, "client_max_window_bits=12") != NULL);
}

int main(void) {
    test_upgrade_then_session();
    test_compression();
    test_client_window_offer();
    test_rejections();
    test_misuse();
    return check_summary("handshake_test");
}
