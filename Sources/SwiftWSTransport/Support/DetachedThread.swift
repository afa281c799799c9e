import Glibc

/// Runs `body` on a new detached POSIX thread (no Foundation `Thread` in the library).
///
/// Used for the one blocking call the networking layer cannot avoid, `getaddrinfo`, so that name
/// resolution never stalls an event loop. Returns false when the thread could not be created;
/// `body` is then never called.
@discardableResult
package func spawnDetachedThread(_ body: @escaping @Sendable () -> Void) -> Bool {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let context = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { raw in
        guard let raw else { return nil }
        Unmanaged<Box>.fromOpaque(raw).takeRetainedValue().body()
        return nil
    }, context)
    if result != 0 {
        Unmanaged<Box>.fromOpaque(context).release()
        return false
    }
    pthread_detach(thread)
    return true
}
