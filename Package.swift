// swift-tools-version:6.2
//
// SwiftWS — an embeddable WebSocket library (RFC 6455 + RFC 7692) with a Swift core and a C API.
//
// Layers (arrows point down only; docs/ARCHITECTURE.md has the table a test checks this file against):
//   SwiftWS (async Swift API, product `SwiftWS`)  |  SwiftWSCAPI (@_cdecl exports, libswiftws.so)
//   SwiftWSEndpoints (servers, clients, connections, topics: the callback-level Swift API)
//   SwiftWSTransport (epoll loop, sockets, timers, TLS through OpenSSL)
//   SwiftWSCore (sans-I/O protocol: handshake, frames, UTF-8, close, permessage-deflate)
// SwiftWS and SwiftWSCAPI stand side by side: the C library does not link the async layer.
// Library targets use only the standard library, Glibc, zlib and (for TLS) OpenSSL: no Foundation.
import PackageDescription

/// Settings shared by every library target: `any` must be spelled out, so that existentials
/// (slow dynamic dispatch) are visible wherever they appear.
let librarySwiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "SwiftWS",
    products: [
        // The Swift API: `import SwiftWS`.
        .library(name: "SwiftWS", targets: ["SwiftWS"]),
        // The C API: libswiftws.so, declared in include/swiftws.h.
        .library(name: "swiftws", type: .dynamic, targets: ["SwiftWSCAPI"]),
        // The echo server that conformance suites, interop tests and benchmarks drive.
        .executable(name: "swiftws-echo", targets: ["swiftws-echo"]),
        // The demo: a chat server with its browser page on one port (scripts/demo.sh runs it).
        .executable(name: "swiftws-demo", targets: ["swiftws-demo"]),
    ],
    dependencies: [
        // Only a command plugin (`swift package generate-documentation --target SwiftWS`, the DocC
        // catalog in Sources/SwiftWS/SwiftWS.docc): no target links it, and the C library never sees it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // The public C header, shared by the Swift exports and C programs.
        .target(
            name: "CSwiftWS",
            path: ".",
            sources: ["Sources/CSwiftWS/anchor.c"],
            publicHeadersPath: "include"
        ),
        // System zlib (Debian: zlib1g-dev) for permessage-deflate.
        .systemLibrary(
            name: "CZlib",
            path: "Sources/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // System OpenSSL 3 (Debian: libssl-dev) for wss:// (Sources/SwiftWSTransport/TLS).
        .systemLibrary(
            name: "COpenSSL",
            path: "Sources/COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // Linux headers the Glibc module lacks (getrandom, epoll, eventfd, timerfd).
        .systemLibrary(name: "CSwiftWSSystem", path: "Sources/CSwiftWSSystem"),
        // hiredis's declarations (Debian: libhiredis-dev) for the Redis topic bridge; not linked:
        // the library is loaded with dlopen when a server joins Redis (Sources/SwiftWSTransport/Redis).
        .systemLibrary(name: "CHiredis", path: "Sources/CHiredis", providers: [.apt(["libhiredis-dev"])]),
        // Layer 1: the sans-I/O protocol core.
        .target(
            name: "SwiftWSCore",
            dependencies: ["CZlib", "CSwiftWSSystem"],
            exclude: ["Session/README.md", "Deflate/README.md"],
            swiftSettings: librarySwiftSettings
        ),
        // Layer 2: transport — event loop (epoll), sockets, timers.
        .target(
            name: "SwiftWSTransport",
            dependencies: ["CSwiftWSSystem", "COpenSSL", "CHiredis"],
            swiftSettings: librarySwiftSettings
        ),
        // Layer 3: endpoints — servers, clients, connections, topics: the callback-level Swift API.
        .target(
            name: "SwiftWSEndpoints",
            dependencies: ["SwiftWSTransport", "SwiftWSCore"],
            swiftSettings: librarySwiftSettings
        ),
        // Layer 4a: the async Swift API (`import SwiftWS`), beside the C API.
        .target(
            name: "SwiftWS",
            dependencies: ["SwiftWSEndpoints", "SwiftWSTransport", "SwiftWSCore"],
            swiftSettings: librarySwiftSettings
        ),
        // Layer 4b: the C API, thin @_cdecl exports over the endpoints layer. Not over the async
        // Swift API (DESIGN.md: side by side): depending on it would link the Swift concurrency
        // runtime and libdispatch into libswiftws.so, about 0.6 MB the C API never uses.
        .target(
            name: "SwiftWSCAPI",
            dependencies: ["CSwiftWS", "SwiftWSEndpoints", "SwiftWSCore"],
            swiftSettings: librarySwiftSettings
        ),
        // Receive-path throughput of the protocol core vs memcpy (bench/core/main.swift).
        .executableTarget(name: "swiftws-bench-core", dependencies: ["SwiftWSCore"], path: "bench/core"),
        // `swiftws-echo --host H --port P [--no-compression] [--max-message-size BYTES]`.
        .executableTarget(name: "swiftws-echo", dependencies: ["SwiftWS"], swiftSettings: librarySwiftSettings),
        // `swiftws-demo [--host H] [--port P] [--seconds N]`: chat rooms plus the page at `/`.
        .executableTarget(name: "swiftws-demo", dependencies: ["SwiftWS"], swiftSettings: librarySwiftSettings),
        .testTarget(name: "SwiftWSCoreTests", dependencies: ["SwiftWSCore"]),
        // Benchmarks (bench/): permessage-deflate throughput next to raw zlib, memory per connection.
        .executableTarget(
            name: "swiftws-bench-deflate", dependencies: ["SwiftWSCore", "CZlib"], path: "bench/deflate",
            swiftSettings: [.swiftLanguageMode(.v5)]  // a top-level script: no actor isolation needed
        ),
        // The scale benchmark (bench/fanout/run.sh): topic fan-out, Redis latency, compression ratio.
        .executableTarget(
            name: "swiftws-bench-fanout", dependencies: ["SwiftWS"], path: "bench/fanout",
            exclude: ["run.sh"], swiftSettings: [.swiftLanguageMode(.v5)]  // a top-level script: no actor isolation needed
        ),
        // Helpers the transport and endpoints tests share (bounded loop runs, byte patterns, paths).
        .target(name: "SwiftWSTestSupport", dependencies: ["SwiftWSTransport"], path: "Tests/SwiftWSTestSupport"),
        .testTarget(name: "SwiftWSTransportTests", dependencies: ["SwiftWSTransport", "SwiftWSTestSupport"]),
        .testTarget(
            name: "SwiftWSEndpointsTests",
            dependencies: ["SwiftWSEndpoints", "SwiftWSTransport", "SwiftWSCore", "SwiftWSTestSupport"]
        ),
        .testTarget(name: "SwiftWSTests", dependencies: ["SwiftWS"]),
    ]
)
