/// SwiftWS: the Swift API — servers and clients with handler closures and async sequences.
@_exported import SwiftWSCore
