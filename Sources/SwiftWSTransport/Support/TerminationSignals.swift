import Glibc

extension EventLoop {
    /// Makes SIGINT and SIGTERM stop this loop (`run()` returns) instead of killing the process,
    /// so that a server can then shut down gracefully (close 1001 to every peer) and exit.
    ///
    /// The signals are blocked in the calling thread (call it before starting other threads, so
    /// they inherit the mask) and awaited with `sigwait` by one small detached thread, which
    /// calls the thread-safe `stop()`: no work runs inside a signal handler. Call it once.
    public func stopOnTerminationSignals() {
        var signals = Self.terminationSignals()
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        pthread_create(&thread, nil, { raw in
            let loop = Unmanaged<EventLoop>.fromOpaque(raw!).takeRetainedValue()
            var signals = EventLoop.terminationSignals()
            var received: Int32 = 0
            sigwait(&signals, &received)
            loop.stop()
            return nil
        }, context)
        pthread_detach(thread)
    }

    private static func terminationSignals() -> sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        return signals
    }
}
