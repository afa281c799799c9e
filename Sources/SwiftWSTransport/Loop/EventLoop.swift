// Loop/: the epoll event loop (EventLoop: readiness, cork and flush, cross-thread work, the
// eventfd wake-up) and its timers (TimerQueue, a heap of deadlines).
import Glibc
import CSwiftWSSystem
import Synchronization

/// An epoll event loop: sockets, timers, cross-thread work, owned by one thread at a time.
///
/// **Level-triggered epoll.** Each readable socket gets one `read` per iteration into the loop's
/// shared receive buffer, whatever is left is reported again next iteration. That keeps one busy
/// connection from starving the others (edge-triggered would force us to read until `EAGAIN`),
/// and a handler that leaves data unread cannot lose a wake-up. `EPOLLOUT` is registered only
/// while a socket has a backlog, so level-triggering never spins on writable sockets.
///
/// **Threads.** Everything is loop-thread-only except `execute`, `stop`, `isInLoopThread`,
/// `pollableFileDescriptor` and `hasPendingWork`, which are safe from any thread. The loop
/// thread is the one that last called `run` or `runOnce` (or created the loop, before that).
///
/// **Writes** made during one iteration are corked: the bytes for one stream collect in the
/// loop's cork buffer and go out in one system call at the end of the iteration (or when another
/// stream is written to). What the kernel does not take is kept in that stream's backlog.
///
/// **Foreign loops.** `pollableFileDescriptor` (the epoll fd) becomes readable whenever the loop
/// has something to do, timers included (a timerfd armed at the earliest deadline is part of the
/// epoll set), so asyncio's `add_reader`, libuv or a C program's `poll` can watch it and call
/// `runOnce(timeout: .zero)`. `nextTimeout` gives the time to the next deadline for loops that
/// prefer to compute their own sleep.
public final class EventLoop: @unchecked Sendable {
    /// Size of the loop's receive buffer, shared by every stream of the loop.
    public static let defaultReceiveBufferSize = 256 * 1024
    /// Bytes one stream may collect in the cork buffer before they are sent at once.
    static let corkCapacity = 16 * 1024

    private static let wakeToken: UInt64 = .max
    private static let timerToken: UInt64 = .max - 1
    private static let eventCapacity = 256

    // MARK: Thread-safe state

    private struct PostedWork {
        var work: [@Sendable () -> Void] = []
        var isClosed = false
    }

    private let epollFD: Int32
    private let wakeFD: Int32
    private let timerFD: Int32
    /// Work posted from other threads. A pthread lock rather than `Mutex`: ThreadSanitizer sees
    /// through it (see `PThreadLock`), so the sanitizer run of several loops stays meaningful.
    private let posted = PThreadLock(PostedWork())
    /// Whether the eventfd has been written and not yet read: later posts skip the write.
    private let wakePending = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)
    private let ownerThread: Atomic<UInt>

    // MARK: Loop-thread state

    var timers = TimerQueue()
    private var armedDeadline: UInt64 = 0
    private var registrants: [Registrant?] = []
    private var generations: [UInt32] = []
    private var freeSlots: [Int] = []
    /// The types of the streams' handlers on this loop with their witness tables for
    /// `SocketStreamHandler`, indexed by `SocketStream.handlerKind`: a stream keeps its handler
    /// as one pointer and 6 bits instead of a 16-byte existential (issue 16).
    /// `@exclusivity(unchecked)`: read on every stream read.
    @exclusivity(unchecked) private var streamHandlerKinds: [(type: ObjectIdentifier, witnessTable: UnsafeRawPointer)] = []
    private var spareWork: [@Sendable () -> Void] = []
    /// Callbacks deferred to the end of the iteration (close notifications, connect results), so
    /// that no user callback runs inside another user call such as `write` or `close`.
    private var deferred: [() -> Void] = []
    /// Whether `runOnce` is running. Outside it nothing is corked or deferred silently: a loop
    /// driven by a foreign loop must see every pending action through its fd.
    private(set) var isInsideIteration = false
    private(set) var isClosed = false

    /// The loop's receive buffer: every stream reads into it and hands a borrowed slice to its
    /// read handler, so receiving allocates nothing.
    let receiveBuffer: UnsafeMutableRawBufferPointer
    private let events: UnsafeMutablePointer<epoll_event>
    let corkBuffer: UnsafeMutableRawPointer
    var corkCount = 0
    /// TLS streams' staging area for the records of a large write (`tlsTransmitStaged`), made
    /// by the first one.
    var tlsStage: UnsafeMutableRawPointer?
    var corkedStream: SocketStream?

    /// Counters for tests and tuning (loop-thread only).
    public struct Statistics: Sendable {
        /// Completed iterations of `runOnce`.
        public var iterations = 0
        /// `read` calls on streams.
        public var reads = 0
        /// `send`/`sendmsg` calls on streams (corked writes count once).
        public var writes = 0
        /// Bytes the kernel accepted from streams.
        public var bytesWritten = 0
    }
    /// Counters for tests and tuning (loop-thread only). `@exclusivity(unchecked)`: counted on
    /// every read, write and iteration, and a public class's `var` is checked at run time on each
    /// access (about 100 instructions, callgrind: 3 per echoed message); each access is a single
    /// increment or copy on the loop thread and never stays open across a call.
    @exclusivity(unchecked) public internal(set) var statistics = Statistics()

    /// Creates a loop owned by the calling thread until another thread runs it.
    /// - Parameter receiveBufferSize: size of the shared receive buffer (at least 4 KiB).
    public init(receiveBufferSize: Int = EventLoop.defaultReceiveBufferSize) throws(NetworkError) {
        let epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw NetworkError.lastSystemError("epoll_create1") }
        let wake = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wake >= 0 else {
            let error = NetworkError.lastSystemError("eventfd")
            Glibc.close(epoll)
            throw error
        }
        let timer = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK | TFD_CLOEXEC))
        guard timer >= 0 else {
            let error = NetworkError.lastSystemError("timerfd_create")
            Glibc.close(epoll)
            Glibc.close(wake)
            throw error
        }
        epollFD = epoll
        wakeFD = wake
        timerFD = timer
        ownerThread = Atomic(UInt(pthread_self()))
        receiveBuffer = .allocate(byteCount: max(receiveBufferSize, 4096), alignment: 16)
        events = .allocate(capacity: EventLoop.eventCapacity)
        corkBuffer = .allocate(byteCount: EventLoop.corkCapacity, alignment: 16)
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = EventLoop.wakeToken
        epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event)
        event.data.u64 = EventLoop.timerToken
        epoll_ctl(epollFD, EPOLL_CTL_ADD, timerFD, &event)
        // `StreamClosures` first, so that a stream tells its closures by their kind, without a cast.
        let closuresKind = streamHandlerKind(of: StreamClosures())
        assert(closuresKind == EventLoop.streamClosuresKind)
    }

    deinit {
        // Streams keep their loop alive, so by now none is registered.
        Glibc.close(epollFD)
        Glibc.close(wakeFD)
        Glibc.close(timerFD)
        receiveBuffer.deallocate()
        events.deallocate()
        corkBuffer.deallocate()
        tlsStage?.deallocate()
    }

    // MARK: Threads

    /// The epoll fd: readable whenever the loop has events, due timers or posted work. Watch it
    /// from a foreign loop and call `runOnce(timeout: .zero)` when it is readable. Thread-safe.
    public var pollableFileDescriptor: Int32 { epollFD }

    /// Whether the caller is the loop's thread. Thread-safe.
    public var isInLoopThread: Bool {
        pthread_equal(pthread_t(ownerThread.load(ordering: .acquiring)), pthread_self()) != 0
    }

    /// Runs `work` on the loop thread during its next iteration, waking the loop if it sleeps.
    /// Thread-safe. Returns false (and drops `work`) once the loop is closed.
    @discardableResult
    public func execute(_ work: @escaping @Sendable () -> Void) -> Bool {
        let accepted = posted.withLock { state -> Bool in
            guard !state.isClosed else { return false }
            state.work.append(work)
            return true
        }
        if accepted { wake() }
        return accepted
    }

    /// Whether work posted with `execute` is waiting. Thread-safe.
    public var hasPendingWork: Bool { posted.withLock { !$0.work.isEmpty } }

    /// Makes `run` return after the current iteration. Thread-safe. A stop requested while the
    /// loop is not running makes the next `run` return after one iteration.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        wake()
    }

    private func wake() {
        // One eventfd write per sleep is enough; the loop clears the flag when it reads the fd.
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    // MARK: Running

    /// Runs iterations until `stop()` (or `close()`).
    public func run() {
        while !stopRequested.load(ordering: .acquiring) && !isClosed {
            runOnce(timeout: nil)
        }
        stopRequested.store(false, ordering: .releasing)
    }

    /// Runs one iteration: waits up to `timeout` (nil: until something happens; `.zero`: not at
    /// all) for socket events, then handles them, runs due timers and posted work, and flushes
    /// corked writes. Returns the number of socket events, timers and posted items handled. Calling it
    /// from inside a loop callback does nothing and returns 0.
    @discardableResult
    public func runOnce(timeout: Duration? = nil) -> Int {
        guard !isInsideIteration, !isClosed else { return 0 }
        ownerThread.store(UInt(pthread_self()), ordering: .releasing)
        isInsideIteration = true
        defer { isInsideIteration = false }

        // Work done on the loop thread outside an iteration (writes, closes) completes first.
        let hadDeferred = !deferred.isEmpty
        finishIteration()
        armTimerDeadline()

        var waitMilliseconds: Int32 = -1
        if let timeout { waitMilliseconds = Self.milliseconds(roundingUp: timeout.clampedNanoseconds) }
        if hadDeferred { waitMilliseconds = 0 }
        let count = epoll_wait(epollFD, events, Int32(EventLoop.eventCapacity), waitMilliseconds)
        var handled = 0
        if count > 0 {
            for index in 0..<Int(count) {
                let event = events[index]
                if dispatch(token: event.data.u64, events: event.events) { handled += 1 }
            }
        }
        handled += runDueTimers()
        handled += runPostedWork()
        finishIteration()
        // Timers scheduled during this iteration (a new connection's keepalive, say) must be on
        // the timerfd now: a foreign loop waits on our fd next, not in our epoll_wait.
        armTimerDeadline()
        statistics.iterations += 1
        return handled
    }

    /// Time until the loop next has something to do without a socket event: `.zero` when posted
    /// work or deferred callbacks wait, the time to the earliest timer, or nil when there is
    /// neither. For foreign loops that compute their own sleep.
    public var nextTimeout: Duration? {
        if hasPendingWork || !deferred.isEmpty || corkCount > 0 { return .zero }
        guard let deadline = timers.earliestDeadline else { return nil }
        let now = MonotonicClock.now()
        return deadline <= now ? .zero : .nanoseconds(Int64(clamping: deadline - now))
    }

    /// Closes every stream, listener and pending connect (their close handlers run with
    /// `.loopClosed`), cancels the timers and refuses further posted work. Work posted before
    /// still runs, after the streams closed (so a send through a `ConnectionHandle` reports a
    /// closed connection instead of never completing). Loop-thread only.
    public func close() {
        guard !isClosed else { return }
        posted.withLock { $0.isClosed = true }
        for registrant in registrants {
            switch registrant {
            case .stream(let stream): stream.closeNow(.loopClosed)
            case .listener(let listener): listener.close()
            case .connect(let attempt): attempt.fail(NetworkError(.closed, "connect"))
            case nil: break
            }
        }
        while let first = timers.heap.first { timers.cancel(first) }
        isClosed = true
        runDeferred()
        _ = runPostedWork()
        runDeferred()
        while let first = timers.heap.first { timers.cancel(first) }
    }

    // MARK: Timers

    /// Calls `callback` on the loop thread once `delay` has passed. Loop-thread only.
    @discardableResult
    public func schedule(after delay: Duration, _ callback: @escaping () -> Void) -> TimerHandle {
        schedule(atDeadline: MonotonicClock.now().saturatingAdd(delay.clampedNanoseconds), callback)
    }

    /// Calls `callback` on the loop thread once `MonotonicClock.now()` reaches `deadline`
    /// (nanoseconds; a deadline already past fires at the next iteration). The handle's
    /// `deadline` is exactly this one, so an owner that re-arms a timer at a computed deadline
    /// can compare with it instead of keeping a copy (issue 16). Loop-thread only.
    @discardableResult
    package func schedule(atDeadline deadline: UInt64, _ callback: @escaping () -> Void) -> TimerHandle {
        let handle = TimerHandle(entry: timers.insert(deadline: deadline, callback: callback))
        // Between iterations (a foreign loop is in charge) the timerfd must carry the new
        // deadline now, or the foreign loop would not wake for it.
        if !isInsideIteration { armTimerDeadline() }
        return handle
    }

    /// Cancels `timer` if it has not fired yet. Loop-thread only.
    public func cancel(_ timer: TimerHandle) {
        timers.cancel(timer.entry)
    }

    private func runDueTimers() -> Int {
        guard timers.count > 0 else { return 0 }
        let now = MonotonicClock.now()
        let limit = timers.nextSequence
        var fired = 0
        while let entry = timers.popExpired(now: now, sequenceLimit: limit) {
            let callback = entry.callback
            entry.callback = nil
            callback?()
            fired += 1
        }
        return fired
    }

    /// Arms the timerfd at the earliest deadline so the epoll fd wakes a sleeping or foreign loop
    /// exactly then; one `timerfd_settime` only when that deadline changed.
    private func armTimerDeadline() {
        let deadline = timers.earliestDeadline ?? 0
        guard deadline != armedDeadline else { return }
        armedDeadline = deadline
        var spec = itimerspec()
        if deadline != 0 {
            let armed = deadline == .max ? UInt64(Int64.max) : deadline
            spec.it_value.tv_sec = Int(armed / 1_000_000_000)
            spec.it_value.tv_nsec = Int(armed % 1_000_000_000)
            if spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0 { spec.it_value.tv_nsec = 1 }
        }
        timerfd_settime(timerFD, Int32(TFD_TIMER_ABSTIME), &spec, nil)
    }

    private static func milliseconds(roundingUp nanoseconds: UInt64) -> Int32 {
        // Round up: waking a millisecond early would make a timer look not yet due and spin.
        let milliseconds = nanoseconds / 1_000_000 + (nanoseconds % 1_000_000 == 0 ? 0 : 1)
        return Int32(clamping: milliseconds)
    }

    // MARK: Posted and deferred work

    private func runPostedWork() -> Int {
        posted.withLock { state in swap(&state.work, &spareWork) }
        let count = spareWork.count
        for work in spareWork { work() }
        spareWork.removeAll(keepingCapacity: true)
        return count
    }

    /// Queues `callback` to run at the end of the current iteration (loop-thread only), after
    /// the iteration's events and timers; writes it makes are still corked into the iteration's
    /// flush. Between iterations it wakes the loop so that the next one runs it.
    public func deferCallback(_ callback: @escaping () -> Void) {
        // A closed loop runs no more iterations: deliver at once rather than never.
        if isClosed { return callback() }
        deferred.append(callback)
        // Between iterations: make the epoll fd readable so that whoever drives the loop runs
        // an iteration soon and delivers the callback.
        if !isInsideIteration && deferred.count == 1 { wake() }
    }

    private func runDeferred() {
        while !deferred.isEmpty {
            let batch = deferred
            deferred.removeAll()
            for callback in batch { callback() }
        }
    }

    /// Flushes corked writes and runs deferred callbacks until neither is left (callbacks may
    /// write, writes may fail and defer a close notification).
    private func finishIteration() {
        repeat {
            flushCork()
            runDeferred()
        } while corkCount > 0 || !deferred.isEmpty
    }

    // MARK: Corking

    /// Makes `stream` the corked stream, first sending what another stream had corked.
    @inline(__always)
    func cork(_ stream: SocketStream) {
        if corkedStream !== stream {
            flushCork()
            corkedStream = stream
        }
    }

    /// Sends the corked bytes of the corked stream in one system call.
    func flushCork() {
        guard let stream = corkedStream else { return }
        corkedStream = nil
        let count = corkCount
        corkCount = 0
        if count > 0 {
            stream.transmit(UnsafeRawBufferPointer(start: corkBuffer, count: count))
        }
    }

    /// Forgets the corked bytes of `stream` (it was aborted).
    func discardCork(of stream: SocketStream) {
        if corkedStream === stream {
            corkedStream = nil
            corkCount = 0
        }
    }

    // MARK: Registration

    /// What an epoll registration dispatches to. An enum of final classes, not a protocol
    /// existential: dispatch is a switch, with no witness tables on the per-event path.
    enum Registrant {
        case stream(SocketStream)
        case listener(SocketListener)
        case connect(ConnectAttempt)
    }

    /// Adds `fd` to the epoll set (or, with `replacing`, changes the registration of an fd
    /// already in it) and returns the slot that identifies `registrant`.
    /// How many handler types one loop's streams can have: a stream keeps the index in 5 bits.
    static let maxStreamHandlerKinds = 32
    /// The kind of `StreamClosures`, the first type in every loop's table (see `init`).
    static let streamClosuresKind: UInt8 = 0

    /// The witness table of the handler type at `kind` (see `streamHandlerKinds`).
    @inline(__always)
    func streamHandlerWitnessTable(_ kind: UInt8) -> UnsafeRawPointer {
        streamHandlerKinds.withUnsafeBufferPointer { $0[Int(kind)].witnessTable }
    }

    /// The index of `handler`'s type in `streamHandlerKinds`, added if new.
    func streamHandlerKind(of handler: any SocketStreamHandler) -> UInt8 {
        let type = ObjectIdentifier(Swift.type(of: handler))
        for index in streamHandlerKinds.indices where streamHandlerKinds[index].type == type { return UInt8(index) }
        precondition(streamHandlerKinds.count < EventLoop.maxStreamHandlerKinds, "too many stream handler types on one loop")
        // The second word of a class-bound existential (see `SocketStream.handler`); `as` keeps
        // the existential from being opened into the object alone.
        let witnessTable = withUnsafeBytes(of: handler as any SocketStreamHandler) { $0.load(fromByteOffset: MemoryLayout<UnsafeRawPointer>.size, as: UnsafeRawPointer.self) }
        streamHandlerKinds.append((type, witnessTable))
        return UInt8(streamHandlerKinds.count - 1)
    }

    func register(_ registrant: Registrant, fd: Int32, events: UInt32, replacing: Bool = false) throws(NetworkError) -> Int {
        guard !isClosed else { throw NetworkError(.closed, "event loop") }
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
        } else {
            slot = registrants.count
            registrants.append(nil)
            generations.append(0)
        }
        var event = epoll_event()
        event.events = events
        event.data.u64 = token(slot)
        guard epoll_ctl(epollFD, replacing ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &event) == 0 else {
            let error = NetworkError.lastSystemError("epoll_ctl")
            freeSlots.append(slot)
            throw error
        }
        registrants[slot] = registrant
        return slot
    }

    /// Changes the events watched for the fd registered in `slot`.
    func modify(slot: Int, fd: Int32, events: UInt32) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = token(slot)
        epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event)
    }

    /// Forgets `slot`. The generation changes, so an event already fetched for the old owner of
    /// the slot in this iteration is ignored instead of reaching a new owner.
    func unregister(slot: Int) {
        guard slot >= 0, slot < registrants.count else { return }
        registrants[slot] = nil
        generations[slot] &+= 1
        freeSlots.append(slot)
    }

    /// Number of live registrations (streams, listeners, connects).
    var registrationCount: Int { registrants.count - freeSlots.count }

    @inline(__always)
    private func token(_ slot: Int) -> UInt64 {
        UInt64(generations[slot]) << 32 | UInt64(UInt32(truncatingIfNeeded: slot))
    }

    /// Handles one epoll event; returns whether it was a socket's (not the loop's own fds).
    private func dispatch(token: UInt64, events: UInt32) -> Bool {
        switch token {
        case EventLoop.wakeToken:
            var value: UInt64 = 0
            _ = read(wakeFD, &value, 8)
            wakePending.store(false, ordering: .releasing)
            return false
        case EventLoop.timerToken:
            var value: UInt64 = 0
            _ = read(timerFD, &value, 8)
            armedDeadline = 0
            return false
        default:
            let slot = Int(token & 0xFFFF_FFFF)
            guard slot < registrants.count, generations[slot] == UInt32(token >> 32),
                  let registrant = registrants[slot] else { return false }
            switch registrant {
            case .stream(let stream): stream.handleEvents(events)
            case .listener(let listener): listener.handleEvents(events)
            case .connect(let attempt): attempt.handleEvents(events)
            }
            return true
        }
    }
}
