import Glibc
import Synchronization
import Testing
@testable import SwiftWSTransport
import SwiftWSTestSupport

@Suite("Event loop: timers, cross-thread work, foreign driving", .serialized)
struct EventLoopTests {
    @Test func timersFireInDeadlineOrderAndCancelledTimersNever() throws {
        let loop = try EventLoop()
        var fired: [String] = []
        loop.schedule(after: .milliseconds(30)) { fired.append("c") }
        loop.schedule(after: .milliseconds(10)) { fired.append("a") }
        let cancelled = loop.schedule(after: .milliseconds(15)) { fired.append("cancelled") }
        loop.schedule(after: .milliseconds(20)) { fired.append("b") }
        loop.schedule(after: .milliseconds(10)) { fired.append("a2") }  // same deadline: FIFO
        loop.schedule(after: .milliseconds(40)) { loop.stop() }
        #expect(cancelled.isPending)
        loop.cancel(cancelled)
        #expect(!cancelled.isPending)
        loop.cancel(cancelled)  // a second cancel does nothing
        let start = nowMilliseconds()
        #expect(runBounded(loop))
        #expect(fired == ["a", "a2", "b", "c"])
        #expect(nowMilliseconds() - start >= 40)
        #expect(loop.timers.count == 0)
    }

    @Test func cancellingFromInsideAnotherTimerAndRescheduling() throws {
        let loop = try EventLoop()
        var fired: [String] = []
        var later: TimerHandle?
        loop.schedule(after: .milliseconds(5)) {
            fired.append("first")
            if let later { loop.cancel(later) }
            // A zero-delay timer scheduled from a timer runs in a later iteration, not this one.
            loop.schedule(after: .zero) { fired.append("zero"); loop.stop() }
        }
        later = loop.schedule(after: .milliseconds(10)) { fired.append("later") }
        #expect(runBounded(loop))
        #expect(fired == ["first", "zero"])
    }

    @Test func executeFromAnotherThreadWakesASleepingLoop() throws {
        let loop = try EventLoop()
        let ranOnLoopThread = Atomic<Bool>(false)
        let otherThreadSawLoopThread = Atomic<Bool>(true)
        let started = nowMilliseconds()
        spawnDetachedThread {
            otherThreadSawLoopThread.store(loop.isInLoopThread, ordering: .relaxed)
            usleep(50_000)
            loop.execute {
                ranOnLoopThread.store(loop.isInLoopThread, ordering: .relaxed)
                loop.stop()
            }
        }
        // No timers besides the 5 s watchdog: only the eventfd can wake the loop early.
        #expect(runBounded(loop))
        let ran = ranOnLoopThread.load(ordering: .relaxed)
        let sawLoopThread = otherThreadSawLoopThread.load(ordering: .relaxed)
        #expect(ran)
        #expect(!sawLoopThread)
        #expect(nowMilliseconds() - started < 2000)
    }

    @Test func manyPostsFromSeveralThreadsAllRunInOrderPerThread() throws {
        /// Loop-thread-only state, reachable from `@Sendable` posted work.
        final class Sink: @unchecked Sendable {
            var received: [[Int]] = [[], [], []]
            var count = 0
        }
        let loop = try EventLoop()
        let sink = Sink()
        let perThread = 2000
        for thread in 0..<3 {
            spawnDetachedThread {
                for value in 0..<perThread {
                    loop.execute {
                        sink.received[thread].append(value)
                        sink.count += 1
                        if sink.count == 3 * perThread { loop.stop() }
                    }
                }
            }
        }
        #expect(runBounded(loop))
        for thread in 0..<3 { #expect(sink.received[thread] == Array(0..<perThread)) }
    }

    @Test func aForeignPollOnTheEpollFdDrivesTimersAndPostedWork() throws {
        let loop = try EventLoop()
        var timerFired = false
        let postedRan = Atomic<Bool>(false)
        loop.schedule(after: .milliseconds(30)) { timerFired = true }
        spawnDetachedThread {
            usleep(10_000)
            loop.execute { postedRan.store(true, ordering: .relaxed) }
        }
        // The host loop sleeps in its own poll() on the pollable fd with a long timeout; the
        // timerfd and the eventfd inside the epoll set must wake it.
        let start = nowMilliseconds()
        var readableWakeUps = 0
        var rounds = 0
        while !(timerFired && postedRan.load(ordering: .relaxed)) && rounds < 50 {
            rounds += 1
            var descriptor = pollfd(fd: loop.pollableFileDescriptor, events: Int16(POLLIN), revents: 0)
            if poll(&descriptor, 1, 2000) > 0 { readableWakeUps += 1 }
            loop.runOnce(timeout: .zero)
        }
        let posted = postedRan.load(ordering: .relaxed)
        #expect(timerFired)
        #expect(posted)
        #expect(readableWakeUps >= 1)
        #expect(nowMilliseconds() - start < 1500)
    }

    @Test func nextTimeoutReportsTheEarliestDeadline() throws {
        let loop = try EventLoop()
        #expect(loop.nextTimeout == nil)
        let timer = loop.schedule(after: .milliseconds(500))
        {}
        let timeout = try #require(loop.nextTimeout)
        #expect(timeout > .milliseconds(400) && timeout <= .milliseconds(500))
        loop.cancel(timer)
        #expect(loop.nextTimeout == nil)
        loop.execute {}
        #expect(loop.nextTimeout == .zero)
        #expect(loop.runOnce(timeout: .zero) == 1)
        #expect(loop.nextTimeout == nil)
    }

    @Test func runOnceWithTimeoutReturnsWhenIdle() throws {
        let loop = try EventLoop()
        let start = nowMilliseconds()
        #expect(loop.runOnce(timeout: .milliseconds(20)) == 0)
        let elapsed = nowMilliseconds() - start
        #expect(elapsed >= 19 && elapsed < 1000)
    }

    @Test func closedLoopRefusesPostedWork() throws {
        let loop = try EventLoop()
        loop.close()
        #expect(!loop.execute {})
        #expect(loop.runOnce(timeout: .zero) == 0)
    }
}

@Suite("Event loop driven by a foreign loop between iterations", .serialized)
struct ForeignDrivenTests {
    /// Waits on the loop's fd like a foreign loop would; true when it became readable.
    private func pollReadable(_ loop: EventLoop, milliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: loop.pollableFileDescriptor, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, milliseconds) > 0
    }

    @Test func workDoneBetweenIterationsIsVisibleThroughTheFd() throws {
        let loop = try EventLoop()
        var server: SocketStream?
        var client: SocketStream?
        var received: [UInt8] = []
        let listener = try loop.listen(host: "127.0.0.1", port: 0) { stream in
            server = stream
            stream.onRead = { received += copyBytes($0) }
        }
        loop.connect(to: listener.localAddress) { result in
            if case .success(let stream) = result { client = stream }
        }
        for _ in 0..<100 where client == nil || server == nil {
            _ = pollReadable(loop, milliseconds: 100)
            loop.runOnce(timeout: .zero)
        }
        let connected = try #require(client)

        // 1. A write made by the host between iterations goes out at once (no cork left behind).
        let writesBefore = loop.statistics.writes
        #expect(connected.write(Array("between".utf8)))
        #expect(loop.statistics.writes == writesBefore + 1)
        #expect(connected.bufferedAmount == 0)
        for _ in 0..<50 where received.count < 7 {
            _ = pollReadable(loop, milliseconds: 100)
            loop.runOnce(timeout: .zero)
        }
        #expect(String(decoding: received, as: UTF8.self) == "between")

        // 2. A timer scheduled between iterations wakes the fd at its deadline.
        var fired = false
        loop.schedule(after: .milliseconds(30)) { fired = true }
        let start = nowMilliseconds()
        #expect(pollReadable(loop, milliseconds: 2000))
        #expect(nowMilliseconds() - start < 1000)
        loop.runOnce(timeout: .zero)
        #expect(fired)

        // 3. A timer scheduled inside an iteration (by another timer's callback here; by a new
        //    connection's keepalive in real use) is armed when the iteration ends, so the
        //    foreign loop wakes for it too.
        var firedFromInside = false
        var outerFired = false
        loop.schedule(after: .milliseconds(1)) {
            outerFired = true
            loop.schedule(after: .milliseconds(30)) { firedFromInside = true }
        }
        for _ in 0..<50 where !outerFired {
            _ = pollReadable(loop, milliseconds: 100)
            loop.runOnce(timeout: .zero)
        }
        #expect(outerFired)
        let insideStart = nowMilliseconds()
        #expect(pollReadable(loop, milliseconds: 2000))
        #expect(nowMilliseconds() - insideStart < 1000)
        loop.runOnce(timeout: .zero)
        #expect(firedFromInside)

        // 4. A close between iterations makes the fd readable; the next iteration reports it.
        var closeReason: StreamCloseReason?
        connected.onClose = { closeReason = $0 }
        connected.close()
        #expect(pollReadable(loop, milliseconds: 1000))
        loop.runOnce(timeout: .zero)
        #expect(closeReason == .local)
    }
}
