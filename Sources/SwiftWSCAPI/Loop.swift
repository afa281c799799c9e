// C API: event loops (header section "Event loops"). Thin over SwiftWSTransport.EventLoop.
import CSwiftWS
import SwiftWSCore
import SwiftWSEndpoints

/// What a `sws_loop_t *` points to.
final class LoopHandle {
    let loop: EventLoop
    /// True while sws_loop_run/run_once runs: callbacks happen only then, so running or freeing
    /// the loop again from a callback is detected here.
    var isRunning = false
    /// Set by sws_loop_free before it closes the loop: the Swift loop runs work posted before its
    /// close (so Swift completions report a closed connection), but the C header promises that
    /// work posted with sws_loop_post and not run yet is dropped, never called with a loop that
    /// is being freed.
    var isFreeing = false
    /// During on_connect_error only: the refusal the server answered with (sws_loop_connect_error_response).
    var connectErrorResponse: (head: OwnedBytes, body: OwnedBytes)?

    init(loop: EventLoop) {
        self.loop = loop
    }
}

/// A C pointer carried into work posted to another thread. The pointers are the C program's;
/// the API contract (user_data is never dereferenced by the library) makes passing them safe.
/// `owner` is read only where the work runs: on the loop's thread, which owns it.
struct PostedWork: @unchecked Sendable {
    let function: sws_loop_work_fn
    let loop: OpaquePointer
    let userData: UnsafeMutableRawPointer?
    let owner: LoopHandle
}

/// The loop behind a handle if the caller is its thread; else nil with the status to return.
func loopOnItsThread(_ handle: OpaquePointer?, _ function: StaticString) -> (LoopHandle?, sws_status) {
    guard let box = object(handle, as: LoopHandle.self) else {
        return (nil, fail(SWS_ERR_INVALID_ARGUMENT, "\(function): loop is NULL"))
    }
    guard box.loop.isInLoopThread else {
        return (nil, fail(SWS_ERR_WRONG_THREAD, "\(function): called from a thread that is not the loop's"))
    }
    return (box, SWS_OK)
}

/// SWS_ERR_WRONG_THREAD with its detail, for objects of `loop`, or SWS_OK on the loop thread.
@inline(__always)
func checkLoopThread(_ loop: EventLoop, _ function: StaticString) -> sws_status {
    loop.isInLoopThread ? SWS_OK : fail(SWS_ERR_WRONG_THREAD, "\(function): called from a thread that is not the loop's")
}

/// Maps a networking failure to a status: name resolution, timeout, or a system call.
func status(for error: NetworkError) -> sws_status {
    switch error.kind {
    case .nameResolution: return SWS_ERR_RESOLVE
    case .timedOut: return SWS_ERR_TIMEOUT
    case .invalidAddress: return SWS_ERR_INVALID_ARGUMENT
    case .closed: return SWS_ERR_CLOSED
    case .system: return SWS_ERR_IO
    case .tls: return SWS_ERR_TLS
    case .redis: return SWS_ERR_UNSUPPORTED  // hiredis not installed (the bridge is optional)
    }
}

@_cdecl("sws_loop_new")
public func sws_loop_new(_ out: UnsafeMutablePointer<OpaquePointer?>?) -> sws_status {
    guard let out else { return fail(SWS_ERR_INVALID_ARGUMENT, "sws_loop_new: out is NULL") }
    out.pointee = nil
    do {
        out.pointee = makeHandle(LoopHandle(loop: try EventLoop()))
        return SWS_OK
    } catch {
        return fail(status(for: error), "sws_loop_new: \(error)")
    }
}

@_cdecl("sws_loop_free")
public func sws_loop_free(_ handle: OpaquePointer?) -> sws_status {
    guard let handle, liveHandles.contains(UnsafeRawPointer(handle)) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_loop_free: NULL or not a live loop (freed twice?)")
    }
    let (box, status) = loopOnItsThread(handle, "sws_loop_free")
    guard let box else { return status }
    guard !box.isRunning else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_loop_free: called from a callback of the loop (stop it instead)")
    }
    box.isRunning = true  // close() runs close callbacks: they must not re-enter
    box.isFreeing = true
    box.loop.close()
    box.isRunning = false
    guard releaseHandle(handle, as: LoopHandle.self) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_loop_free: not a live loop (freed twice?)")
    }
    return SWS_OK
}

@_cdecl("sws_loop_run")
public func sws_loop_run(_ handle: OpaquePointer?) -> sws_status {
    guard let box = object(handle, as: LoopHandle.self) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_loop_run: loop is NULL")
    }
    guard !box.isRunning else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_loop_run: the loop is already running (called from a callback?)")
    }
    box.isRunning = true
    box.loop.run()
    box.isRunning = false
    return SWS_OK
}

@_cdecl("sws_loop_run_once")
public func sws_loop_run_once(_ handle: OpaquePointer?, _ timeoutMilliseconds: Int32) -> sws_status {
    guard let box = object(handle, as: LoopHandle.self) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_loop_run_once: loop is NULL")
    }
    guard timeoutMilliseconds >= -1 else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_loop_run_once: timeout_ms must be -1 or more")
    }
    guard !box.isRunning else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_loop_run_once: the loop is already running (called from a callback?)")
    }
    box.isRunning = true
    box.loop.runOnce(timeout: timeoutMilliseconds < 0 ? nil : .milliseconds(Int64(timeoutMilliseconds)))
    box.isRunning = false
    return SWS_OK
}

@_cdecl("sws_loop_stop")
public func sws_loop_stop(_ handle: OpaquePointer?) -> sws_status {
    guard let box = object(handle, as: LoopHandle.self) else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_loop_stop: loop is NULL")
    }
    box.loop.stop()
    return SWS_OK
}

@_cdecl("sws_loop_post")
public func sws_loop_post(_ handle: OpaquePointer?, _ function: sws_loop_work_fn?,
                          _ userData: UnsafeMutableRawPointer?) -> sws_status {
    guard let handle, let box = object(handle, as: LoopHandle.self), let function else {
        return fail(SWS_ERR_INVALID_ARGUMENT, "sws_loop_post: loop or fn is NULL")
    }
    let work = PostedWork(function: function, loop: handle, userData: userData, owner: box)
    guard box.loop.execute({ if !work.owner.isFreeing { work.function(work.loop, work.userData) } }) else {
        return fail(SWS_ERR_CLOSED, "sws_loop_post: the loop is closed")
    }
    return SWS_OK
}

@_cdecl("sws_loop_fd")
public func sws_loop_fd(_ handle: OpaquePointer?) -> Int32 {
    object(handle, as: LoopHandle.self)?.loop.pollableFileDescriptor ?? -1
}

@_cdecl("sws_loop_next_timeout_ms")
public func sws_loop_next_timeout_ms(_ handle: OpaquePointer?) -> Int32 {
    guard let box = object(handle, as: LoopHandle.self), box.loop.isInLoopThread,
          let timeout = box.loop.nextTimeout else { return -1 }
    let (seconds, attoseconds) = timeout.components
    // Rounded up, so that a caller sleeping this long never wakes before the deadline.
    let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    return Int32(clamping: milliseconds)
}
