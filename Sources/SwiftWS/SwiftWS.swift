/// SwiftWS: the async Swift API — servers and clients with handler closures and async sequences.
///
/// `import SwiftWS` brings the protocol types (SwiftWSCore), the event loop and sockets
/// (SwiftWSTransport), servers, clients and connections (SwiftWSEndpoints), and the async
/// conveniences of this module. The C API (SwiftWSCAPI) stands beside this module, not on it.
@_exported import SwiftWSCore
@_exported import SwiftWSEndpoints
@_exported import SwiftWSTransport
