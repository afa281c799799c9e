import Testing
@testable import SwiftWSCore

private let second: UInt64 = 1_000_000_000

/// Runs the policy at `now` until it has nothing more to do; returns the actions in order.
private func due(_ timeouts: inout ConnectionTimeouts, at now: UInt64) -> [ConnectionTimeouts.Action] {
    var actions: [ConnectionTimeouts.Action] = []
    while true {
        let action = timeouts.nextAction(now: now)
        if action == .wait { return actions }
        actions.append(action)
        if action == .abort { return actions }
        #expect(actions.count < 10, "the policy must settle")
        if actions.count >= 10 { return actions }
    }
}

@Suite("Time policy: keepalive, idle, unfinished message and close timeouts with a fake clock")
struct ConnectionTimeoutsTests {
    @Test func nothingIsDueWithEveryTimerOff() {
        var timeouts = ConnectionTimeouts(.init(), now: 0)
        #expect(timeouts.nextDeadline == .max)
        #expect(due(&timeouts, at: 1_000 * second) == [])
    }

    @Test func keepalivePingsEveryIntervalAndAPongAnswersIt() {
        var timeouts = ConnectionTimeouts(.init(pingInterval: 5 * second, pongTimeout: 2 * second), now: 0)
        #expect(timeouts.nextDeadline == 5 * second)
        #expect(due(&timeouts, at: 5 * second) == [.sendPing])
        #expect(timeouts.nextDeadline == 7 * second)  // the pong deadline comes first
        timeouts.pongReceived()
        #expect(timeouts.nextDeadline == 10 * second)
        #expect(due(&timeouts, at: 10 * second) == [.sendPing])
    }

    @Test func noPongInTimeCloses1011AndThenOnlyTheCloseDeadlineCounts() {
        var timeouts = ConnectionTimeouts(.init(pingInterval: 1 * second, pongTimeout: 2 * second, closeTimeout: 3 * second), now: 0)
        #expect(due(&timeouts, at: 1 * second) == [.sendPing])
        #expect(due(&timeouts, at: 2 * second) == [.sendPing])  // one pong deadline for both pings
        #expect(due(&timeouts, at: 3 * second) == [.close(.internalError, "keepalive ping timeout")])
        // Closing: the next ping time (4 s) is in the past at 5 s, yet nothing is due but the
        // close deadline — no timer re-armed in the past (a spinning loop), none lost either.
        #expect(timeouts.nextDeadline == 6 * second)
        #expect(due(&timeouts, at: 5 * second) == [])
        #expect(due(&timeouts, at: 6 * second) == [.abort])
    }

    @Test func idleTimeoutCountsFromTheLastReceive() {
        var timeouts = ConnectionTimeouts(.init(idleTimeout: 10 * second), now: 0)
        #expect(timeouts.tracksReceiveTime)
        timeouts.received(now: 4 * second)
        #expect(timeouts.nextDeadline == 14 * second)
        #expect(due(&timeouts, at: 13 * second) == [])
        #expect(due(&timeouts, at: 14 * second) == [.close(.goingAway, "idle timeout")])
        #expect(!timeouts.tracksReceiveTime)
    }

    @Test func anUnfinishedMessageTimesOutWith1008() {
        var timeouts = ConnectionTimeouts(.init(messageTimeout: 2 * second), now: 0)
        #expect(!timeouts.isTimingMessage)
        timeouts.messageInProgress(true, now: 1 * second)
        #expect(timeouts.isTimingMessage)
        timeouts.messageInProgress(true, now: 2 * second)  // still the same message: no restart
        #expect(timeouts.nextDeadline == 3 * second)
        timeouts.messageInProgress(false, now: 2 * second)
        #expect(timeouts.nextDeadline == .max)
        timeouts.messageInProgress(true, now: 5 * second)
        #expect(due(&timeouts, at: 7 * second) == [.close(.policyViolation, "message not completed in time")])
    }

    @Test func closingArmsTheCloseDeadlineOnceAndSilencesTheOtherTimers() {
        var timeouts = ConnectionTimeouts(.init(pingInterval: 1 * second, idleTimeout: 1 * second, messageTimeout: 1 * second,
                                                closeTimeout: 10 * second), now: 0)
        timeouts.messageInProgress(true, now: 0)
        #expect(!timeouts.isClosing)
        timeouts.closingStarted(now: 0)
        #expect(timeouts.isClosing)
        timeouts.closingStarted(now: 5 * second)  // idempotent: the first start counts
        #expect(timeouts.nextDeadline == 10 * second)
        #expect(due(&timeouts, at: 9 * second) == [])
        #expect(due(&timeouts, at: 10 * second) == [.abort])
    }

    @Test func severalTimersDueAtOnceSettleInOrder() {
        // Ping and idle both due: the idle close wins and the ping is not sent on a closing connection.
        var timeouts = ConnectionTimeouts(.init(pingInterval: 1 * second, idleTimeout: 1 * second), now: 0)
        #expect(due(&timeouts, at: 1 * second) == [.close(.goingAway, "idle timeout")])
    }

    @Test func hugeDurationsSaturateInsteadOfWrapping() {
        var timeouts = ConnectionTimeouts(.init(pingInterval: .max, idleTimeout: .max, closeTimeout: .max), now: 5)
        #expect(timeouts.nextDeadline == .max)
        timeouts.closingStarted(now: 10)
        #expect(timeouts.nextDeadline == .max)
        #expect(due(&timeouts, at: .max - 1) == [])
    }
}
