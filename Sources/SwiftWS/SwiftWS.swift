/// SwiftWS: the Swift API — servers and clients with handler closures and async sequences.
///
/// `import SwiftWS` brings the protocol types (SwiftWSCore), the event loop, servers, clients and
/// connections (SwiftWSNetworking), and the async conveniences of this module.
@_exported import SwiftWSCore
@_exported import SwiftWSNetworking
