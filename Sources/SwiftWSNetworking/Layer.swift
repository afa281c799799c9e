/// SwiftWSNetworking: the epoll event loop, sockets, timers, TLS, servers, clients and pub/sub.
/// (Layer 2 of docs/ARCHITECTURE.md; the protocol itself lives in SwiftWSCore.)
enum SwiftWSNetworkingLayer {}
