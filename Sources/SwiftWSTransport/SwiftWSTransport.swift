// SwiftWSTransport (layer 2): the epoll event loop (Loop/), non-blocking sockets (Sockets/) and
// the system helpers they share (Support/). This layer moves bytes and keeps time; it knows
// nothing of WebSocket: the protocol lives in SwiftWSCore, servers and clients in SwiftWSEndpoints.
// TLS (OpenSSL) and proxies will live here too.
