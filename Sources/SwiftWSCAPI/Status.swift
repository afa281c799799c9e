// C API: status codes and the thread-local last-error detail (header section "Status codes").
import CSwiftWS
import SwiftWSCore
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
    case SWS_ERR_PROXY: name = "proxy failed"
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

/// Maps a refused send to its status and detail: the one place where a `SessionError` (the
/// core's, thrown by sessions and connections alike) becomes a C status.
func fail(_ error: SessionError, _ function: StaticString) -> sws_status {
    switch error {
    case .closed:
        return fail(SWS_ERR_CLOSED, "\(function): a close frame was already sent or the connection ended")
    case .fragmentedMessageInProgress:
        return fail(SWS_ERR_INVALID_ARGUMENT, "\(function): a fragmented message is unfinished (or of the other kind)")
    case .invalidUTF8:
        return fail(SWS_ERR_INVALID_ARGUMENT, "\(function): text is not valid UTF-8")
    case .controlPayloadTooLong:
        return fail(SWS_ERR_TOO_BIG, "\(function): control frame payloads are limited to 125 bytes")
    case .invalidCloseCode:
        return fail(SWS_ERR_INVALID_ARGUMENT, "\(function): this close code may not be sent (RFC 6455 section 7.4)")
    case .closeReasonTooLong:
        return fail(SWS_ERR_TOO_BIG, "\(function): close reasons are limited to 123 bytes")
    case .encodedFrameRequiresServerRole:
        return fail(SWS_ERR_INVALID_ARGUMENT, "\(function): pre-encoded frames need the server role")
    case .compressionFailed:
        return fail(SWS_ERR_NO_MEMORY, "\(function): zlib could not allocate its compression state")
    }
}

/// A session's or connection's state as the C enum (one mapping for both).
func cState(_ state: SessionState) -> sws_session_state {
    switch state {
    case .open: return SWS_SESSION_OPEN
    case .closing: return SWS_SESSION_CLOSING
    case .closed: return SWS_SESSION_CLOSED
    }
}
