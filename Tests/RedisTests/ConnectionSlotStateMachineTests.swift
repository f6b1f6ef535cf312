import Testing

@testable import Redis

@Suite("A connection slot's reconnect rules, without I/O")
struct ConnectionSlotStateMachineTests {
    struct FakeConnection: SlotConnection, Equatable {
        var id: Int
        var isActive = true
    }

    /// A connect attempt, named by the failed connects before it (what the slot's task captures).
    struct FakeAttempt: Equatable {
        var failures: Int
    }

    typealias Machine = ConnectionSlotStateMachine<FakeConnection, FakeAttempt>

    let start = ContinuousClock.now
    let refused = RedisError(.connectionFailed, "cannot connect to Redis at 127.0.0.1:6379: connection refused")

    func makeMachine() -> Machine {
        Machine(reconnectBackoff: .milliseconds(50), maxReconnectBackoff: .seconds(2))
    }

    /// Asks for a connection at `now`; also returns the attempts the machine started (none or one).
    func acquire(_ machine: inout Machine, at now: ContinuousClock.Instant) -> (Machine.AcquireAction, started: [Int]) {
        var started: [Int] = []
        let action = machine.acquire(now: now) { failures in
            started.append(failures)
            return FakeAttempt(failures: failures)
        }
        return (action, started)
    }

    @Test func theFirstCallerStartsAConnectAndWaitsForIt() {
        var machine = makeMachine()
        let (action, started) = acquire(&machine, at: start)
        #expect(started == [0])
        #expect(action == .wait(FakeAttempt(failures: 0)))
        #expect(machine.state == .connecting(FakeAttempt(failures: 0), failures: 0))
    }

    @Test func callersDuringAConnectWaitForTheSameAttempt() {
        var machine = makeMachine()
        _ = acquire(&machine, at: start)
        let (action, started) = acquire(&machine, at: start + .milliseconds(1))
        #expect(started.isEmpty)
        #expect(action == .wait(FakeAttempt(failures: 0)))
    }

    @Test func aMadeConnectionIsUsedByLaterCallers() {
        var machine = makeMachine()
        _ = acquire(&machine, at: start)
        #expect(machine.connected(FakeConnection(id: 1)) == .use)
        #expect(machine.state == .connected(FakeConnection(id: 1)))
        let (action, started) = acquire(&machine, at: start + .seconds(60))
        #expect(started.isEmpty)
        #expect(action == .use(FakeConnection(id: 1)))
    }

    @Test func aConnectionThatWentInactiveIsReplacedByANewConnect() {
        var machine = makeMachine()
        _ = acquire(&machine, at: start)
        _ = machine.connected(FakeConnection(id: 1, isActive: false))
        let (action, started) = acquire(&machine, at: start)
        #expect(started == [0])
        #expect(action == .wait(FakeAttempt(failures: 0)))
        #expect(machine.state == .connecting(FakeAttempt(failures: 0), failures: 0))
    }

    @Test func aFailedConnectBacksOffAndCallersFailFastQuotingTheError() {
        var machine = makeMachine()
        _ = acquire(&machine, at: start)
        machine.connectFailed(refused, now: start)
        #expect(machine.state == .backingOff(failures: 1, until: start + .milliseconds(50), lastError: refused))

        let (action, started) = acquire(&machine, at: start + .milliseconds(49))
        #expect(started.isEmpty)
        guard case .fail(let error) = action else {
            Issue.record("expected a fast failure during the backoff, got \(action)")
            return
        }
        #expect(error.code == .unavailable)
        #expect(error.message.contains(refused.message))
    }

    @Test func whenTheBackoffEndsTheNextCallerReconnectsWithTheFailuresCarriedOver() {
        var machine = makeMachine()
        _ = acquire(&machine, at: start)
        machine.connectFailed(refused, now: start)

        let (action, started) = acquire(&machine, at: start + .milliseconds(50))
        #expect(started == [1])
        #expect(action == .wait(FakeAttempt(failures: 1)))
        #expect(machine.state == .connecting(FakeAttempt(failures: 1), failures: 1))

        // A second failure in a row waits twice as long.
        let later = start + .milliseconds(60)
        machine.connectFailed(refused, now: later)
        #expect(machine.state == .backingOff(failures: 2, until: later + .milliseconds(100), lastError: refused))
        #expect(acquire(&machine, at: later + .milliseconds(99)).started.isEmpty)
        #expect(acquire(&machine, at: later + .milliseconds(100)).started == [2])
    }

    @Test func aReconnectThatSucceedsStartsTheFailureCountAfresh() {
        var machine = makeMachine()
        _ = acquire(&machine, at: start)
        machine.connectFailed(refused, now: start)
        _ = acquire(&machine, at: start + .seconds(1))
        #expect(machine.connected(FakeConnection(id: 2, isActive: false)) == .use)

        let (_, started) = acquire(&machine, at: start + .seconds(2))
        #expect(started == [0])
    }

    @Test(arguments: [
        (1, Duration.milliseconds(50)), (2, .milliseconds(100)), (3, .milliseconds(200)), (6, .milliseconds(1600)),
        (7, .seconds(2)), (17, .seconds(2)), (1000, .seconds(2)),
    ])
    func theBackoffDoublesPerFailureUpToTheMaximum(failures: Int, expected: Duration) {
        #expect(makeMachine().backoff(afterFailures: failures) == expected)
    }

    @Test func closingAnIdleSlotLeavesNothingToCloseAndLaterCallersFailWithShutdown() {
        var machine = makeMachine()
        #expect(machine.close() == .nothing)
        let (action, started) = acquire(&machine, at: start)
        #expect(started.isEmpty)
        #expect(action == .fail(RedisError(.shutdown, "the Redis client was shut down")))
    }

    @Test func closingWhileConnectingClosesTheConnectionTheAttemptMakes() {
        var machine = makeMachine()
        _ = acquire(&machine, at: start)
        #expect(machine.close() == .closeWhenConnected(FakeAttempt(failures: 0)))
        #expect(machine.state == .closed)

        // The attempt finishes after the close: its connection is not kept.
        guard case .discard(let error) = machine.connected(FakeConnection(id: 1)) else {
            Issue.record("a connection made after the close was kept")
            return
        }
        #expect(error.code == .shutdown)
        #expect(machine.state == .closed)
        #expect(acquire(&machine, at: start).0 == .fail(RedisError(.shutdown, "the Redis client was shut down")))
    }

    @Test func anAttemptFailingAfterTheCloseLeavesTheSlotClosed() {
        var machine = makeMachine()
        _ = acquire(&machine, at: start)
        _ = machine.close()
        machine.connectFailed(refused, now: start)
        #expect(machine.state == .closed)
        #expect(acquire(&machine, at: start + .seconds(60)).started.isEmpty)
    }

    @Test func closingWhileConnectedClosesTheConnection() {
        var machine = makeMachine()
        _ = acquire(&machine, at: start)
        _ = machine.connected(FakeConnection(id: 1))
        #expect(machine.close() == .closeConnection(FakeConnection(id: 1)))
        #expect(acquire(&machine, at: start).0 == .fail(RedisError(.shutdown, "the Redis client was shut down")))
        // Closing again has nothing left to close.
        #expect(machine.close() == .nothing)
    }

    @Test func closingWhileBackingOffStaysClosedAfterTheBackoff() {
        var machine = makeMachine()
        _ = acquire(&machine, at: start)
        machine.connectFailed(refused, now: start)
        #expect(machine.close() == .nothing)
        let (action, started) = acquire(&machine, at: start + .seconds(60))
        #expect(started.isEmpty)
        #expect(action == .fail(RedisError(.shutdown, "the Redis client was shut down")))
    }
}
