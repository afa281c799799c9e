/// Whether a session's inflating stopped at the per-call budget (`SessionConfiguration.inflateBudget`),
/// carrying what then waits for `Session.resume(_:)`: a state that exists only while it holds
/// something, so an idle session pays one word for it (issue 16: memory per idle connection;
/// issue 10 item 3: receive state as an enum carrying its data).
enum InflateWork {
    /// Input is processed as it arrives.
    case running
    /// Inflating stopped mid-frame; the rest waits for `resume`.
    case suspended(SuspendedInflate)

    /// Received bytes held while suspended (what a memory budget counts).
    var bufferedCount: Int {
        guard case .suspended(let waiting) = self else { return 0 }
        return waiting.compressed.count &+ waiting.deferredInput.count
    }

    /// Buffer storage held while suspended.
    var heldCapacity: Int {
        guard case .suspended(let waiting) = self else { return 0 }
        return waiting.compressed.capacity &+ waiting.deferredInput.capacity
    }
}

/// The work a suspended inflate left: the compressed bytes of the current frame not inflated
/// yet, where that frame stood, and the input that arrived behind it (in order). Owned by one
/// session; a class so that `resume` can keep working on these bytes while a new suspension
/// (a new object) collects what is left.
final class SuspendedInflate {
    var compressed = ByteBuffer()
    let frameIsDone: Bool
    /// FIN of that frame: by the time `resume` runs, the session may be between frames, so the
    /// frame's header is kept here.
    let frameIsFinal: Bool
    var deferredInput = ByteBuffer()

    init(frameIsDone: Bool, frameIsFinal: Bool) {
        self.frameIsDone = frameIsDone
        self.frameIsFinal = frameIsFinal
    }

    deinit {
        compressed.deallocate()
        deferredInput.deallocate()
    }
}
