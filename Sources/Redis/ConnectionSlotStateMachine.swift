/// What the slot's state machine asks of a connection: whether it can still carry commands.
protocol SlotConnection {
    var isActive: Bool { get }
}

extension RedisConnection: SlotConnection {}

/// The reconnect rules of one pooled connection, as a value: which connection a caller gets, when
/// to connect again, how long to back off after failed connects, what to close on shutdown.
///
/// No I/O, no tasks, no clock: the slot that owns it (in ``RedisClient``) passes the time in and
/// does what it answers. Generic over the connection and the connect attempt (a `Task` there), so
/// tests drive every transition with plain values.
struct ConnectionSlotStateMachine<Connection: SlotConnection, Attempt> {
    enum State {
        case idle
        /// A connect is under way; every caller waits for it. `failures`: failed connects before it.
        case connecting(Attempt, failures: Int)
        case connected(Connection)
        /// Callers fail fast until `until`; the next one after it connects again.
        case backingOff(failures: Int, until: ContinuousClock.Instant, lastError: RedisError)
        case closed
    }

    /// What a caller who wants a connection does.
    enum AcquireAction {
        case use(Connection)
        /// Waits for the connect under way (perhaps the one this caller just started).
        case wait(Attempt)
        case fail(RedisError)
    }

    /// What to do with a connection that has just been made.
    enum ConnectedAction {
        case use
        /// The slot was closed meanwhile: close the connection and fail with the error.
        case discard(RedisError)
    }

    /// What a close leaves to be closed.
    enum CloseAction {
        case nothing
        case closeConnection(Connection)
        /// A connect is under way: close its connection if it makes one.
        case closeWhenConnected(Attempt)
    }

    private(set) var state: State = .idle
    /// First wait after a failed connect; doubles on every further failure, up to `maxReconnectBackoff`.
    let reconnectBackoff: Duration
    let maxReconnectBackoff: Duration

    init(reconnectBackoff: Duration, maxReconnectBackoff: Duration) {
        self.reconnectBackoff = reconnectBackoff
        self.maxReconnectBackoff = maxReconnectBackoff
    }

    /// A caller wants a connection at `now`. When a connect must start, `startConnecting` is called
    /// (with the failed connects so far) to start it, and the caller waits for what it returns:
    /// starting and recording the attempt is one step, so no other caller can start a second one.
    mutating func acquire(
        now: ContinuousClock.Instant, startConnecting: (_ failures: Int) -> Attempt
    ) -> AcquireAction {
        let failures: Int
        switch state {
        case .connected(let connection) where connection.isActive:
            return .use(connection)
        case .connecting(let attempt, _):
            return .wait(attempt)
        case .closed:
            return .fail(Self.shutdownError)
        case .backingOff(let count, let until, let lastError):
            if now < until {
                return .fail(RedisError(.unavailable, "Redis unreachable, retrying shortly: \(lastError.message)"))
            }
            failures = count
        case .idle, .connected:
            // Never connected, or the connection dropped: connect (again).
            failures = 0
        }
        let attempt = startConnecting(failures)
        state = .connecting(attempt, failures: failures)
        return .wait(attempt)
    }

    /// The connect under way made `connection`.
    mutating func connected(_ connection: Connection) -> ConnectedAction {
        if case .closed = state { return .discard(Self.shutdownError) }
        state = .connected(connection)
        return .use
    }

    /// The connect under way failed at `now`: back off, longer after every failure in a row.
    mutating func connectFailed(_ error: RedisError, now: ContinuousClock.Instant) {
        // Only an attempt under way can fail; after a close the slot stays closed.
        guard case .connecting(_, let failures) = state else { return }
        state = .backingOff(failures: failures + 1, until: now + backoff(afterFailures: failures + 1), lastError: error)
    }

    /// Closes the slot for good: later callers fail with `.shutdown`.
    mutating func close() -> CloseAction {
        let previous = state
        state = .closed
        switch previous {
        case .connected(let connection): return .closeConnection(connection)
        case .connecting(let attempt, _): return .closeWhenConnected(attempt)
        case .idle, .backingOff, .closed: return .nothing
        }
    }

    /// How long to wait after `failures` failed connects in a row (at least one).
    func backoff(afterFailures failures: Int) -> Duration {
        let factor = 1 << min(failures - 1, 16)
        return min(reconnectBackoff * factor, maxReconnectBackoff)
    }

    private static var shutdownError: RedisError { RedisError(.shutdown, "the Redis client was shut down") }
}

extension ConnectionSlotStateMachine.State: Sendable where Connection: Sendable, Attempt: Sendable {}
extension ConnectionSlotStateMachine.AcquireAction: Sendable where Connection: Sendable, Attempt: Sendable {}
extension ConnectionSlotStateMachine.CloseAction: Sendable where Connection: Sendable, Attempt: Sendable {}
extension ConnectionSlotStateMachine.ConnectedAction: Sendable {}
extension ConnectionSlotStateMachine: Sendable where Connection: Sendable, Attempt: Sendable {}

extension ConnectionSlotStateMachine.State: Equatable where Connection: Equatable, Attempt: Equatable {}
extension ConnectionSlotStateMachine.AcquireAction: Equatable where Connection: Equatable, Attempt: Equatable {}
extension ConnectionSlotStateMachine.CloseAction: Equatable where Connection: Equatable, Attempt: Equatable {}
extension ConnectionSlotStateMachine.ConnectedAction: Equatable {}
