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
