// swift-tools-version:6.0
// SwiftWSLogging: SwiftWS's async API logging through swift-log (apple/swift-log).
//
// A package of its own, not a target or trait of the SwiftWS package: the library (and the C
// library, libswiftws.so) never resolves, builds or links swift-log; an application that wants
// its WebSocket events in its `Logger` adds this package next to SwiftWS and calls
// `SwiftWSLogging.bootstrap(logger)`. scripts/test.sh runs its tests.
import PackageDescription

let package = Package(
    name: "SwiftWSLogging",
    products: [.library(name: "SwiftWSLogging", targets: ["SwiftWSLogging"])],
    dependencies: [
        .package(name: "SwiftWS", path: "../.."),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .target(name: "SwiftWSLogging", dependencies: [
            .product(name: "SwiftWS", package: "SwiftWS"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SwiftWSLoggingTests", dependencies: ["SwiftWSLogging"]),
    ]
)
