import Testing
@testable import SwiftWSCore

private let second: UInt64 = 1_000_000_000

/// Runs the policy at `now` until it has nothing more to do; returns the actions in order.
private func due(_ timeouts: inout ConnectionTimeouts, _ durations: ConnectionTimeouts.Configuration,
                 _ outstanding: inout ConnectionTimeouts.Outstanding, at now: UInt64) -> [ConnectionTimeouts.Action] {
    var actions: [ConnectionTimeouts.Action] = []
    while true {
        let action = timeouts.nextAction(now: now, durations: durations, outstanding: &outstanding)
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
        let durations = ConnectionTimeouts.Configuration()
        var timeouts = ConnectionTimeouts(durations, now: 0)
        var outstanding = ConnectionTimeouts.Outstanding()
        #expect(timeouts.nextDeadline(durations: durations, outstanding: outstanding) == .max)
        #expect(due(&timeouts, durations, &outstanding, at: 1_000 * second) == [])
    }

    @Test func keepalivePingsEveryIntervalAndAPongAnswersIt() {
        let durations = ConnectionTimeouts.Configuration(pingInterval: 5 * second, pongTimeout: 2 * second)
        var timeouts = ConnectionTimeouts(durations, now: 0)
        var outstanding = ConnectionTimeouts.Outstanding()
        #expect(timeouts.nextDeadline(durations: durations, outstanding: outstanding) == 5 * second)
        #expect(due(&timeouts, durations, &outstanding, at: 5 * second) == [.sendPing])
        #expect(timeouts.nextDeadline(durations: durations, outstanding: outstanding) == 7 * second)  // the pong deadline comes first
        outstanding.pongReceived()
        #expect(timeouts.nextDeadline(durations: durations, outstanding: outstanding) == 10 * second)
        #expect(due(&timeouts, durations, &outstanding, at: 10 * second) == [.sendPing])
    }

    @Test func noPongInTimeCloses1011AndThenOnlyTheCloseDeadlineCounts() {
        let durations = ConnectionTimeouts.Configuration(pingInterval: 1 * second, pongTimeout: 2 * second, closeTimeout: 3 * second)
        var timeouts = ConnectionTimeouts(durations, now: 0)
        var outstanding = ConnectionTimeouts.Outstanding()
        #expect(due(&timeouts, durations, &outstanding, at: 1 * second) == [.sendPing])
        #expect(due(&timeouts, durations, &outstanding, at: 2 * second) == [.sendPing])  // one pong deadline for both pings
        #expect(due(&timeouts, durations, &outstanding, at: 3 * second) == [.close(.internalError, "keepalive ping timeout")])
        // Closing: the next ping time (4 s) is in the past at 5 s, yet nothing is due but the
        // close deadline — no timer re-armed in the past (a spinning loop), none lost either.
        #expect(timeouts.nextDeadline(durations: durations, outstanding: outstanding) == 6 * second)
        #expect(due(&timeouts, durations, &outstanding, at: 5 * second) == [])
        #expect(due(&timeouts, durations, &outstanding, at: 6 * second) == [.abort])
    }

    @Test func idleTimeoutCountsFromTheLastReceive() {
        let durations = ConnectionTimeouts.Configuration(idleTimeout: 10 * second)
        var timeouts = ConnectionTimeouts(durations, now: 0)
        var outstanding = ConnectionTimeouts.Outstanding()
        #expect(timeouts.tracksReceiveTime(durations: durations))
        timeouts.received(now: 4 * second)
        #expect(timeouts.nextDeadline(durations: durations, outstanding: outstanding) == 14 * second)
        #expect(due(&timeouts, durations, &outstanding, at: 13 * second) == [])
        #expect(due(&timeouts, durations, &outstanding, at: 14 * second) == [.close(.goingAway, "idle timeout")])
        #expect(!timeouts.tracksReceiveTime(durations: durations))
    }

    @Test func anUnfinishedMessageTimesOutWith1008() {
        let durations = ConnectionTimeouts.Configuration(messageTimeout: 2 * second)
        var timeouts = ConnectionTimeouts(durations, now: 0)
        var outstanding = ConnectionTimeouts.Outstanding()
        #expect(!outstanding.isTimingMessage)
        outstanding.messageInProgress(true, now: 1 * second)
        #expect(outstanding.isTimingMessage)
        outstanding.messageInProgress(true, now: 2 * second)  // still the same message: no restart
        #expect(timeouts.nextDeadline(durations: durations, outstanding: outstanding) == 3 * second)
        outstanding.messageInProgress(false, now: 2 * second)
        #expect(timeouts.nextDeadline(durations: durations, outstanding: outstanding) == .max)
        outstanding.messageInProgress(true, now: 5 * second)
        #expect(due(&timeouts, durations, &outstanding, at: 7 * second) == [.close(.policyViolation, "message not completed in time")])
    }

    @Test func closingArmsTheCloseDeadlineOnceAndSilencesTheOtherTimers() {
        let durations = ConnectionTimeouts.Configuration(pingInterval: 1 * second, idleTimeout: 1 * second,
                                                         messageTimeout: 1 * second, closeTimeout: 10 * second)
        var timeouts = ConnectionTimeouts(durations, now: 0)
        var outstanding = ConnectionTimeouts.Outstanding()
        outstanding.messageInProgress(true, now: 0)
        #expect(!timeouts.isClosing)
        timeouts.closingStarted(now: 0, durations: durations)
        #expect(timeouts.isClosing)
        timeouts.closingStarted(now: 5 * second, durations: durations)  // idempotent: the first start counts
        #expect(timeouts.nextDeadline(durations: durations, outstanding: outstanding) == 10 * second)
        #expect(due(&timeouts, durations, &outstanding, at: 9 * second) == [])
        #expect(due(&timeouts, durations, &outstanding, at: 10 * second) == [.abort])
    }

    @Test func severalTimersDueAtOnceSettleInOrder() {
        // Ping and idle both due: the idle close wins and the ping is not sent on a closing connection.
        let durations = ConnectionTimeouts.Configuration(pingInterval: 1 * second, idleTimeout: 1 * second)
        var timeouts = ConnectionTimeouts(durations, now: 0)
        var outstanding = ConnectionTimeouts.Outstanding()
        #expect(due(&timeouts, durations, &outstanding, at: 1 * second) == [.close(.goingAway, "idle timeout")])
    }

    @Test func hugeDurationsSaturateInsteadOfWrapping() {
        let durations = ConnectionTimeouts.Configuration(pingInterval: .max, idleTimeout: .max, closeTimeout: .max)
        var timeouts = ConnectionTimeouts(durations, now: 5)
        var outstanding = ConnectionTimeouts.Outstanding()
        #expect(timeouts.nextDeadline(durations: durations, outstanding: outstanding) == .max)
        timeouts.closingStarted(now: 10, durations: durations)
        #expect(timeouts.nextDeadline(durations: durations, outstanding: outstanding) == .max)
        #expect(due(&timeouts, durations, &outstanding, at: .max - 1) == [])
    }
}
