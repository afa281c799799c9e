// Helpers the transport and endpoints tests share: bounded loop runs, clocks, byte patterns, paths.
import Glibc
import SwiftWSTransport

/// Runs `loop` until a test handler stops it or `seconds` pass. Returns true when the test
/// stopped it, false when the watchdog had to: every networking test ends by itself.
public func runBounded(_ loop: EventLoop, seconds: Int = 5) -> Bool {
    var timedOut = false
    let watchdog = loop.schedule(after: .seconds(seconds)) {
        timedOut = true
        loop.stop()
    }
    loop.run()
    loop.cancel(watchdog)
    return !timedOut
}

/// Milliseconds on the monotonic clock, for elapsed-time assertions.
public func nowMilliseconds() -> Int {
    Int(MonotonicClock.now() / 1_000_000)
}

/// `count` bytes of a position-dependent pattern, so that lost, duplicated or reordered bytes
/// are detected, not just a wrong length.
public func patternBytes(_ count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
}

/// Copies a borrowed receive buffer.
public func copyBytes(_ buffer: UnsafeMutableRawBufferPointer) -> [UInt8] {
    Array(UnsafeRawBufferPointer(buffer))
}

/// A unique Unix socket path under /tmp for this process.
public func temporaryUnixPath(_ name: String) -> String {
    "/tmp/swiftws-test-\(getpid())-\(name).sock"
}
