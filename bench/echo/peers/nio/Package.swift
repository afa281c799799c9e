// swift-tools-version:5.10
//
// A SwiftNIO echo server for bench/echo/run.sh: Vapor's WebSocketKit over NIO's HTTP/1 upgrade.
// A separate package so that SwiftNIO never enters the library's dependency graph.
// Build: swift build -c release --package-path bench/echo/peers/nio
import PackageDescription

let package = Package(
    name: "nio-echo",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.78.0"),
        .package(url: "https://github.com/vapor/websocket-kit.git", from: "2.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "nio-echo",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "WebSocketKit", package: "websocket-kit"),
            ]
        ),
    ]
)
