// SwiftWSEndpoints: WebSocket servers, clients, connections and topics over the transport layer —
// the callback-level Swift API. The async API (SwiftWS) and the C API (SwiftWSCAPI) both stand on
// this module, side by side.
//
// The endpoints' public API speaks in transport types (EventLoop, SocketAddress, NetworkError,
// ListenOptions, StreamOptions), so importing the endpoints brings the transport with them.
@_exported import SwiftWSTransport
