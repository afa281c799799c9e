import Glibc

/// The loop's clock: `CLOCK_MONOTONIC` in nanoseconds.
///
/// Monotonic because timers must not jump when the wall clock is set; `CLOCK_MONOTONIC` (not
/// `CLOCK_BOOTTIME`) because the timerfd that lets a foreign loop see our deadlines is armed on
/// the same clock, so both agree to the nanosecond.
package enum MonotonicClock {
    /// Nanoseconds since an arbitrary fixed point (boot); never decreases.
    @inline(__always)
    package static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }
}

extension Duration {
    /// This duration in nanoseconds, negative durations as 0 and overflow clamped to `UInt64.max`
    /// (a timeout of "forever" must not wrap around into "now").
    package var clampedNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        let (total, overflow2) = whole.addingReportingOverflow(UInt64(max(attoseconds, 0) / 1_000_000_000))
        return overflow2 ? .max : total
    }
}

extension UInt64 {
    /// `self + nanoseconds`, saturating at `UInt64.max` (a deadline "never").
    @inline(__always)
    package func saturatingAdd(_ nanoseconds: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(nanoseconds)
        return overflow ? .max : sum
    }
}
