import Testing
@testable import SwiftWSNetworking
