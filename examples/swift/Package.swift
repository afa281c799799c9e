// swift-tools-version:6.0
// SwiftWS examples for Swift users, on the async API:
//   swift run EchoServer [PORT]                 an echo server (Ctrl-C: graceful shutdown, 1001)
//   swift run ChatServer [PORT]                 a chat with rooms as topics: ws://localhost:PORT/ROOM
//   swift run StreamClient URL [MiB]            sends one 100 MiB message in fragments, memory bounded
//   swift run ReadmeSnippet                     the README's Swift section, verbatim
// Tests/Examples/test_swift_examples.py builds them and runs each against Python `websockets`.
import PackageDescription

let package = Package(
    name: "SwiftWSExamples",
    // The dependency is named explicitly, so `package: "SwiftWS"` below holds whatever the
    // clone's folder is called (SwiftPM otherwise names a path dependency after its folder).
    dependencies: [.package(name: "SwiftWS", path: "../..")],
    targets: [
        .executableTarget(name: "EchoServer", dependencies: [.product(name: "SwiftWS", package: "SwiftWS")]),
        .executableTarget(name: "ChatServer", dependencies: [.product(name: "SwiftWS", package: "SwiftWS")]),
        .executableTarget(name: "StreamClient", dependencies: [.product(name: "SwiftWS", package: "SwiftWS")]),
        .executableTarget(name: "ReadmeSnippet", dependencies: [.product(name: "SwiftWS", package: "SwiftWS")]),
    ]
)
