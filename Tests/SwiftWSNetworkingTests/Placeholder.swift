import Testing
@testable import SwiftWSNetworking

@Suite struct NetworkingPlaceholderTests {}
