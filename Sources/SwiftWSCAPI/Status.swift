// C API: status codes and the thread-local last-error detail (header section "Status codes").
import CSwiftWS
import Glibc

@_cdecl("sws_status_string")
public func sws_status_string(_ status: sws_status) -> UnsafePointer<CChar> {
    let name: StaticString
    switch status {
    case SWS_OK: name = "ok"
    case SWS_ERR_INVALID_ARGUMENT: name = "invalid argument"
    case SWS_ERR_NO_MEMORY: name = "out of memory"
    case SWS_ERR_CLOSED: name = "closed"
    case SWS_ERR_PROTOCOL: name = "protocol error"
    case SWS_ERR_HANDSHAKE: name = "handshake failed"
    case SWS_ERR_TOO_BIG: name = "too big"
    case SWS_ERR_IO: name = "I/O error"
    case SWS_ERR_TIMEOUT: name = "timed out"
    case SWS_ERR_WRONG_THREAD: name = "called from the wrong thread"
    case SWS_ERR_TLS: name = "TLS error"
    case SWS_ERR_RESOLVE: name = "host name resolution failed"
    case SWS_ERR_UNSUPPORTED: name = "unsupported"
    default: name = "unknown status"
    }
    return UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// Per-thread storage for the last error's detail: a malloc'd C string owned by the thread.
/// pthread keys (not Swift globals) because the detail must be per thread and the library may
/// not use Foundation's Thread.
private let lastErrorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { pointer in free(pointer) }
    return key
}()

/// Records the detail of a failure on the calling thread, for sws_last_error().
func setLastError(_ message: String) {
    let old = pthread_getspecific(lastErrorKey)
    let copy = strdup(message)
    pthread_setspecific(lastErrorKey, copy)
    free(old)
}

/// Records `message` as the last error and returns `status`, so a failing export is one line.
func fail(_ status: sws_status, _ message: String) -> sws_status {
    setLastError(message)
    return status
}

private let emptyCString: StaticString = ""

@_cdecl("sws_last_error")
public func sws_last_error() -> UnsafePointer<CChar> {
    if let pointer = pthread_getspecific(lastErrorKey) {
        return UnsafePointer(pointer.assumingMemoryBound(to: CChar.self))
    }
    return UnsafeRawPointer(emptyCString.utf8Start).assumingMemoryBound(to: CChar.self)
}
