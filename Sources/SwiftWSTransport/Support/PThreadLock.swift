import Glibc

/// A value behind a pthread mutex, for state that several loop threads share (a server on
/// several loops). Not `Synchronization.Mutex`: on Linux that one waits in the kernel (futex)
/// where ThreadSanitizer cannot see it, so the sanitizer run of the multi-loop tests reported
/// races that were not; pthread mutexes it understands.
///
/// `@unchecked Sendable`: every access to `value` happens under the mutex.
package final class PThreadLock<Value>: @unchecked Sendable {
    // Manually allocated: a pthread mutex must not move, and Swift may move stored properties.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    package init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the value, under the lock.
    package func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
