// swift-tools-version:6.0
// SwiftWS examples for Swift users: an echo server, a chat server with broadcast and topics,
// and an async client. Build and run from this folder:
//   swift run EchoServer 9001        swift run ChatServer 9002        swift run ChatClient ws://127.0.0.1:9002/
import PackageDescription

let package = Package(
    name: "SwiftWSExamples",
    dependencies: [.package(name: "SwiftWS", path: "../..")],
    targets: [
        .executableTarget(name: "EchoServer", dependencies: [.product(name: "SwiftWS", package: "SwiftWS")]),
        .executableTarget(name: "ChatServer", dependencies: [.product(name: "SwiftWS", package: "SwiftWS")]),
        .executableTarget(name: "ChatClient", dependencies: [.product(name: "SwiftWS", package: "SwiftWS")]),
    ]
)
