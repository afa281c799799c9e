// C API: opaque handles. Every handle handed to C is an `Unmanaged` pointer to a Swift box
// object, retained once at creation and released once by its `..._free` function.
import Glibc

/// The handles currently alive, so that a `..._free` of a handle already freed (or of a pointer
/// that never was a handle) is refused with SWS_ERR_INVALID_ARGUMENT instead of releasing freed
/// memory. Only creation and destruction consult it: checking it on every call would put a lock
/// on the per-message path, so other calls on a freed handle remain undefined (documented).
final class HandleRegistry: @unchecked Sendable {
    // Manually allocated: a pthread mutex must not move, and Swift may move stored properties.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var live: Set<UnsafeRawPointer> = []

    init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    /// Records a new handle.
    func insert(_ handle: UnsafeRawPointer) {
        pthread_mutex_lock(mutex)
        live.insert(handle)
        pthread_mutex_unlock(mutex)
    }

    /// Whether `handle` is alive.
    func contains(_ handle: UnsafeRawPointer) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return live.contains(handle)
    }

    /// Forgets a handle; false if it was not alive (double free or garbage).
    func remove(_ handle: UnsafeRawPointer) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return live.remove(handle) != nil
    }
}

/// The one registry of every kind of handle (a pointer is only ever one kind of object).
let liveHandles = HandleRegistry()

/// Hands `object` to C as an opaque pointer, retained until `releaseHandle`.
func makeHandle<Box: AnyObject>(_ object: Box) -> OpaquePointer {
    let pointer = Unmanaged.passRetained(object).toOpaque()
    liveHandles.insert(UnsafeRawPointer(pointer))
    return OpaquePointer(pointer)
}

/// The object behind a handle, or nil for NULL. Borrowed: no reference is taken beyond the call.
@inline(__always)
func object<Box: AnyObject>(_ handle: OpaquePointer?, as type: Box.Type) -> Box? {
    guard let handle else { return nil }
    return Unmanaged<Box>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}

/// Releases a handle made by `makeHandle`; false (and nothing released) if it is not alive.
func releaseHandle<Box: AnyObject>(_ handle: OpaquePointer, as type: Box.Type) -> Bool {
    guard liveHandles.remove(UnsafeRawPointer(handle)) else { return false }
    Unmanaged<Box>.fromOpaque(UnsafeRawPointer(handle)).release()
    return true
}
