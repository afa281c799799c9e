/// One scheduled callback. A class so that a handle can find it in the heap in O(1) (its
/// `heapIndex`) and cancel it in O(log n) instead of leaving a tombstone that keeps its closure
/// (and whatever the closure captured) alive until the deadline.
final class TimerEntry {
    /// Absolute deadline on `MonotonicClock`, in nanoseconds.
    let deadline: UInt64
    /// Insertion order: timers with the same deadline fire first-in, first-out.
    let sequence: UInt64
    /// The work; released as soon as the timer fires or is cancelled.
    var callback: (() -> Void)?
    /// Position in `TimerQueue.heap`, or -1 once fired or cancelled.
    var heapIndex: Int

    init(deadline: UInt64, sequence: UInt64, callback: @escaping () -> Void) {
        self.deadline = deadline
        self.sequence = sequence
        self.callback = callback
        self.heapIndex = -1
    }

    /// Heap order: earlier deadline first, then earlier insertion.
    @inline(__always)
    func firesBefore(_ other: TimerEntry) -> Bool {
        deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
    }
}

/// A timer returned by `EventLoop.schedule`; pass it to `EventLoop.cancel` to cancel it.
///
/// Loop-thread only, like the loop's timers. Cancelling a timer that already fired or was
/// already cancelled does nothing.
public struct TimerHandle {
    let entry: TimerEntry
    /// Whether the timer is still waiting to fire.
    public var isPending: Bool { entry.heapIndex >= 0 }
    /// When the timer fires (or was to fire), in `MonotonicClock` nanoseconds.
    package var deadline: UInt64 { entry.deadline }
}

/// A binary min-heap of timers ordered by (deadline, sequence), with removal by handle.
///
/// A heap rather than a timing wheel: O(log n) insert and cancel, exact deadlines, and no
/// periodic tick that would wake an idle loop. Connection timeouts are re-armed lazily by their
/// owners (fire, check the last activity, schedule again) so the heap sees few operations.
struct TimerQueue {
    private(set) var heap: [TimerEntry] = []
    private(set) var nextSequence: UInt64 = 0

    var count: Int { heap.count }

    /// The earliest deadline, or nil when no timer is pending.
    var earliestDeadline: UInt64? { heap.first?.deadline }

    /// Adds a timer firing at `deadline`.
    mutating func insert(deadline: UInt64, callback: @escaping () -> Void) -> TimerEntry {
        let entry = TimerEntry(deadline: deadline, sequence: nextSequence, callback: callback)
        nextSequence &+= 1
        entry.heapIndex = heap.count
        heap.append(entry)
        siftUp(heap.count - 1)
        return entry
    }

    /// Removes `entry` if it is still pending and releases its callback (cancellation); returns
    /// whether it was pending.
    @discardableResult
    mutating func cancel(_ entry: TimerEntry) -> Bool {
        guard detach(entry) else { return false }
        entry.callback = nil
        return true
    }

    /// Takes `entry` out of the heap, keeping its callback.
    private mutating func detach(_ entry: TimerEntry) -> Bool {
        let index = entry.heapIndex
        guard index >= 0, index < heap.count, heap[index] === entry else { return false }
        let last = heap.removeLast()
        entry.heapIndex = -1
        if index < heap.count {
            heap[index] = last
            last.heapIndex = index
            siftDown(index)
            siftUp(last.heapIndex)
        }
        return true
    }

    /// Removes and returns the earliest timer if it is due at `now` and was inserted before
    /// `sequenceLimit` (so that a callback that schedules a zero-delay timer cannot keep one
    /// loop iteration busy forever).
    mutating func popExpired(now: UInt64, sequenceLimit: UInt64) -> TimerEntry? {
        guard let first = heap.first, first.deadline <= now, first.sequence < sequenceLimit else {
            return nil
        }
        _ = detach(first)
        return first
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].firesBefore(heap[parent]) else { break }
            heap.swapAt(child, parent)
            heap[child].heapIndex = child
            heap[parent].heapIndex = parent
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            let right = left + 1
            let earlier = right < heap.count && heap[right].firesBefore(heap[left]) ? right : left
            guard heap[earlier].firesBefore(heap[parent]) else { return }
            heap.swapAt(earlier, parent)
            heap[earlier].heapIndex = earlier
            heap[parent].heapIndex = parent
            parent = earlier
        }
    }
}
