// C API: compile-time check that every @_cdecl export has exactly the signature include/swiftws.h
// declares. The header is imported into Swift (module CSwiftWS), so each pair below -- the C
// declaration and the Swift export -- must have the same function type, or this file does not
// compile. Without it, a parameter added on one side only would link fine and corrupt memory at
// run time. Add a line for every new export.
import CSwiftWS

/// Never called: building it is the check.
private func checkExportsMatchHeader() {
    func same<Function>(_ declared: Function, _ exported: Function) {}
    same(CSwiftWS.sws_version, SwiftWSCAPI.sws_version)
    same(CSwiftWS.sws_abi_version, SwiftWSCAPI.sws_abi_version)
    same(CSwiftWS.sws_status_string, SwiftWSCAPI.sws_status_string)
    same(CSwiftWS.sws_last_error, SwiftWSCAPI.sws_last_error)

    same(CSwiftWS.sws_session_config_init, SwiftWSCAPI.sws_session_config_init)
    same(CSwiftWS.sws_session_callbacks_init, SwiftWSCAPI.sws_session_callbacks_init)
    same(CSwiftWS.sws_session_new, SwiftWSCAPI.sws_session_new)
    same(CSwiftWS.sws_session_free, SwiftWSCAPI.sws_session_free)
    same(CSwiftWS.sws_session_feed, SwiftWSCAPI.sws_session_feed)
    same(CSwiftWS.sws_session_feed_eof, SwiftWSCAPI.sws_session_feed_eof)
    same(CSwiftWS.sws_session_send_text, SwiftWSCAPI.sws_session_send_text)
    same(CSwiftWS.sws_session_send_binary, SwiftWSCAPI.sws_session_send_binary)
    same(CSwiftWS.sws_session_send_fragment, SwiftWSCAPI.sws_session_send_fragment)
    same(CSwiftWS.sws_session_send_ping, SwiftWSCAPI.sws_session_send_ping)
    same(CSwiftWS.sws_session_send_pong, SwiftWSCAPI.sws_session_send_pong)
    same(CSwiftWS.sws_session_close, SwiftWSCAPI.sws_session_close)
    same(CSwiftWS.sws_session_pending_output, SwiftWSCAPI.sws_session_pending_output)
    same(CSwiftWS.sws_session_consume_output, SwiftWSCAPI.sws_session_consume_output)
    same(CSwiftWS.sws_session_should_close_transport, SwiftWSCAPI.sws_session_should_close_transport)
    same(CSwiftWS.sws_session_closes_transport_first, SwiftWSCAPI.sws_session_closes_transport_first)
    same(CSwiftWS.sws_session_get_state, SwiftWSCAPI.sws_session_get_state)
    same(CSwiftWS.sws_session_close_status, SwiftWSCAPI.sws_session_close_status)
}

/// Never called: the opening handshake exports.
private func checkHandshakeExportsMatchHeader() {
    func same<Function>(_ declared: Function, _ exported: Function) {}
    same(CSwiftWS.sws_server_handshake_new, SwiftWSCAPI.sws_server_handshake_new)
    same(CSwiftWS.sws_server_handshake_free, SwiftWSCAPI.sws_server_handshake_free)
    same(CSwiftWS.sws_server_handshake_feed, SwiftWSCAPI.sws_server_handshake_feed)
    same(CSwiftWS.sws_server_handshake_target, SwiftWSCAPI.sws_server_handshake_target)
    same(CSwiftWS.sws_server_handshake_header, SwiftWSCAPI.sws_server_handshake_header)
    same(CSwiftWS.sws_server_handshake_subprotocol_count, SwiftWSCAPI.sws_server_handshake_subprotocol_count)
    same(CSwiftWS.sws_server_handshake_subprotocol, SwiftWSCAPI.sws_server_handshake_subprotocol)
    same(CSwiftWS.sws_server_handshake_accept, SwiftWSCAPI.sws_server_handshake_accept)
    same(CSwiftWS.sws_server_handshake_reject, SwiftWSCAPI.sws_server_handshake_reject)
    same(CSwiftWS.sws_server_handshake_response, SwiftWSCAPI.sws_server_handshake_response)
    same(CSwiftWS.sws_client_handshake_config_init, SwiftWSCAPI.sws_client_handshake_config_init)
    same(CSwiftWS.sws_client_handshake_new, SwiftWSCAPI.sws_client_handshake_new)
    same(CSwiftWS.sws_client_handshake_free, SwiftWSCAPI.sws_client_handshake_free)
    same(CSwiftWS.sws_client_handshake_request, SwiftWSCAPI.sws_client_handshake_request)
    same(CSwiftWS.sws_client_handshake_feed, SwiftWSCAPI.sws_client_handshake_feed)
    same(CSwiftWS.sws_client_handshake_http_status, SwiftWSCAPI.sws_client_handshake_http_status)
    same(CSwiftWS.sws_client_handshake_subprotocol, SwiftWSCAPI.sws_client_handshake_subprotocol)
    same(CSwiftWS.sws_compression_config_init, SwiftWSCAPI.sws_compression_config_init)
    same(CSwiftWS.sws_server_handshake_compression, SwiftWSCAPI.sws_server_handshake_compression)
    same(CSwiftWS.sws_server_handshake_new_session, SwiftWSCAPI.sws_server_handshake_new_session)
    same(CSwiftWS.sws_client_handshake_compression, SwiftWSCAPI.sws_client_handshake_compression)
    same(CSwiftWS.sws_client_handshake_new_session, SwiftWSCAPI.sws_client_handshake_new_session)
}

/// Never called: the networking exports (loops, connections, servers, clients).
private func checkNetworkingExportsMatchHeader() {
    func same<Function>(_ declared: Function, _ exported: Function) {}
    same(CSwiftWS.sws_loop_new, SwiftWSCAPI.sws_loop_new)
    same(CSwiftWS.sws_loop_free, SwiftWSCAPI.sws_loop_free)
    same(CSwiftWS.sws_loop_run, SwiftWSCAPI.sws_loop_run)
    same(CSwiftWS.sws_loop_run_once, SwiftWSCAPI.sws_loop_run_once)
    same(CSwiftWS.sws_loop_stop, SwiftWSCAPI.sws_loop_stop)
    same(CSwiftWS.sws_loop_post, SwiftWSCAPI.sws_loop_post)
    same(CSwiftWS.sws_loop_fd, SwiftWSCAPI.sws_loop_fd)
    same(CSwiftWS.sws_conn_handlers_init, SwiftWSCAPI.sws_conn_handlers_init)
    same(CSwiftWS.sws_conn_send_text, SwiftWSCAPI.sws_conn_send_text)
    same(CSwiftWS.sws_conn_send_binary, SwiftWSCAPI.sws_conn_send_binary)
    same(CSwiftWS.sws_conn_send_fragment, SwiftWSCAPI.sws_conn_send_fragment)
    same(CSwiftWS.sws_conn_send_ping, SwiftWSCAPI.sws_conn_send_ping)
    same(CSwiftWS.sws_conn_close, SwiftWSCAPI.sws_conn_close)
    same(CSwiftWS.sws_conn_abort, SwiftWSCAPI.sws_conn_abort)
    same(CSwiftWS.sws_conn_buffered_amount, SwiftWSCAPI.sws_conn_buffered_amount)
    same(CSwiftWS.sws_conn_is_open, SwiftWSCAPI.sws_conn_is_open)
    same(CSwiftWS.sws_conn_is_compressed, SwiftWSCAPI.sws_conn_is_compressed)
    same(CSwiftWS.sws_conn_remote_address, SwiftWSCAPI.sws_conn_remote_address)
    same(CSwiftWS.sws_loop_next_timeout_ms, SwiftWSCAPI.sws_loop_next_timeout_ms)
    same(CSwiftWS.sws_conn_set_user_data, SwiftWSCAPI.sws_conn_set_user_data)
    same(CSwiftWS.sws_conn_get_user_data, SwiftWSCAPI.sws_conn_get_user_data)
    same(CSwiftWS.sws_conn_info, SwiftWSCAPI.sws_conn_info)
    same(CSwiftWS.sws_conn_subscribe, SwiftWSCAPI.sws_conn_subscribe)
    same(CSwiftWS.sws_conn_unsubscribe, SwiftWSCAPI.sws_conn_unsubscribe)
    same(CSwiftWS.sws_conn_ref_new, SwiftWSCAPI.sws_conn_ref_new)
    same(CSwiftWS.sws_conn_ref_send_text, SwiftWSCAPI.sws_conn_ref_send_text)
    same(CSwiftWS.sws_conn_ref_send_binary, SwiftWSCAPI.sws_conn_ref_send_binary)
    same(CSwiftWS.sws_conn_ref_close, SwiftWSCAPI.sws_conn_ref_close)
    same(CSwiftWS.sws_conn_ref_is_closed, SwiftWSCAPI.sws_conn_ref_is_closed)
    same(CSwiftWS.sws_conn_ref_free, SwiftWSCAPI.sws_conn_ref_free)
    same(CSwiftWS.sws_connection_config_init, SwiftWSCAPI.sws_connection_config_init)
    same(CSwiftWS.sws_server_config_init, SwiftWSCAPI.sws_server_config_init)
    same(CSwiftWS.sws_server_new, SwiftWSCAPI.sws_server_new)
    same(CSwiftWS.sws_server_port, SwiftWSCAPI.sws_server_port)
    same(CSwiftWS.sws_server_connection_count, SwiftWSCAPI.sws_server_connection_count)
    same(CSwiftWS.sws_server_broadcast, SwiftWSCAPI.sws_server_broadcast)
    same(CSwiftWS.sws_server_publish, SwiftWSCAPI.sws_server_publish)
    same(CSwiftWS.sws_server_subscriber_count, SwiftWSCAPI.sws_server_subscriber_count)
    same(CSwiftWS.sws_server_shutdown, SwiftWSCAPI.sws_server_shutdown)
    same(CSwiftWS.sws_server_free, SwiftWSCAPI.sws_server_free)
    same(CSwiftWS.sws_request_target, SwiftWSCAPI.sws_request_target)
    same(CSwiftWS.sws_request_header, SwiftWSCAPI.sws_request_header)
    same(CSwiftWS.sws_request_subprotocol_count, SwiftWSCAPI.sws_request_subprotocol_count)
    same(CSwiftWS.sws_request_subprotocol, SwiftWSCAPI.sws_request_subprotocol)
    same(CSwiftWS.sws_request_accept, SwiftWSCAPI.sws_request_accept)
    same(CSwiftWS.sws_request_respond, SwiftWSCAPI.sws_request_respond)
    same(CSwiftWS.sws_client_config_init, SwiftWSCAPI.sws_client_config_init)
    same(CSwiftWS.sws_client_connect, SwiftWSCAPI.sws_client_connect)
}
