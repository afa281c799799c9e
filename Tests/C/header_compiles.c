/* Compiled (not run) as C99, C11 and C++17 with -Wall -Wextra -Werror -pedantic by the
 * header_* tests: the header must be clean in each, including when its declarations are used:
 * every struct is initialised, every callback type is assigned, and a sample of functions is
 * called. */
#include "swiftws.h"

#include <stddef.h>

static void on_text(sws_session_t *session, void *user_data, const char *data, size_t len) {
    (void)session; (void)user_data; (void)data; (void)len;
}
static void on_message(sws_conn_t *conn, void *user_data, sws_message_kind kind, const uint8_t *data, size_t len) {
    (void)conn; (void)user_data; (void)kind; (void)data; (void)len;
}
static void on_upgrade(sws_server_t *server, void *user_data, sws_request_t *upgrade) {
    (void)server; (void)user_data;
    sws_request_accept(upgrade, NULL, NULL);
}
static void work(sws_loop_t *loop, void *user_data) { (void)loop; (void)user_data; }

static int uses_the_header(void) {
    sws_session_config session_config;
    sws_session_callbacks session_callbacks;
    sws_compression_config compression;
    sws_client_handshake_config handshake_config;
    sws_connection_config connection_config;
    sws_server_config server_config;
    sws_client_config client_config;
    sws_conn_handlers handlers;
    sws_session_t *session = NULL;
    sws_loop_t *loop = NULL;
    sws_send_result result = SWS_SEND_SENT;
    int total = 0;

    total += sws_session_config_init(&session_config) + sws_session_callbacks_init(&session_callbacks);
    total += sws_compression_config_init(&compression) + sws_client_handshake_config_init(&handshake_config);
    total += sws_server_config_init(&server_config) + sws_client_config_init(&client_config);
    total += sws_conn_handlers_init(&handlers);
    session_callbacks.on_text = on_text;
    handlers.on_message = on_message;
    handlers.on_upgrade = on_upgrade;
    total += sws_connection_config_init(&connection_config);
    connection_config.compression = &compression;
    connection_config.limits = &session_config;
    server_config.connection = &connection_config;
    total += sws_session_new(SWS_ROLE_SERVER, &session_config, &session_callbacks, NULL, &session);
    total += sws_loop_new(&loop) + sws_loop_post(loop, work, NULL);
    total += sws_conn_send_text(NULL, "x", 1, &result);
    total += (int)result + SWS_VERSION_MAJOR + SWS_ABI_VERSION + SWS_CLOSE_NO_STATUS;
    total += (sws_version() != NULL) + (sws_status_string(SWS_ERR_TLS) != NULL) + (sws_last_error() != NULL);
    return total;
}

int main(void) {
    return uses_the_header() != 0 ? 0 : 1;
}
