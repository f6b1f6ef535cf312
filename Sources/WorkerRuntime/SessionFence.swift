import MessageBus
import Foundation
import Mongo
import Redis
import Synchronization

/// Lets a live consumer abort the MongoDB transactions a dead worker process left open.
///
/// A process that dies mid-transaction (SIGKILL, OOM, a lost host) leaves the transaction open on
/// the server, holding its writes, until the server gives up on it (`transactionLifetimeLimitSeconds`,
/// 60 s by default). Whoever writes the same documents meanwhile gets write conflicts: a consumer
/// that reclaims the dead process's entries would retry into them for up to a minute, holding up
/// its other reclaims and every reply behind them.
///
/// So each process records the server session IDs its transactions use in
/// `<prefix>:sessions:<host-pid>` (a session is recorded before its first write), and a consumer
/// about to reclaim entries that another process's consumers hold kills that process's sessions
/// first (`killSessions`), which aborts what they left open at once. A process that was only slow
/// loses its open transactions the same way; they are rerun (by it and by the reclaimer) and the
/// ledger keeps every effect single.
public final class SessionFence: Sendable {
    public let redis: RedisClient
    public let names: StreamNames
    /// This process's name: host-pid, the prefix of its consumers' names.
    public let process: String
    /// Session IDs (the UUID bytes) already recorded.
    private let recorded = Mutex<Set<Data>>([])
    /// How long a process's record outlives its last refresh.
    static let recordLifetime: Duration = .seconds(3600)

    public init(redis: RedisClient, names: StreamNames, process: String = StreamNames.processName) {
        self.redis = redis
        self.names = names
        self.process = process
    }

    /// Runs `body` in a transaction (``MongoDatabase/withTransaction(_:)``) whose session is
    /// recorded before anything is written.
    public func withTransaction<T: Sendable>(
        _ database: MongoDatabase, _ body: @escaping @Sendable (MongoTransaction) throws -> T
    ) async throws -> T {
        try await database.withTransaction { transaction in
            if let id = try Self.uuid(of: transaction.sessionID()), !self.recorded.withLock({ $0.contains(id) }) {
                try self.recordWaiting(id)
            }
            return try body(transaction)
        }
    }

    /// Records a session from a MongoDB pool thread (where waiting is allowed, never an event loop),
    /// once per session: the driver reuses its server sessions, so this soon stops happening. (The
    /// transaction cannot be abandoned to record the session and started again: the driver discards
    /// a session that sent nothing, so the next attempt would get a new one.)
    private func recordWaiting(_ id: Data) throws {
        let outcome = WaitedOutcome()
        Task {
            do {
                try await self.record(id)
            } catch {
                outcome.error.withLock { $0 = error }
            }
            outcome.done.signal()
        }
        outcome.done.wait()
        if let error = outcome.error.withLock({ $0 }) { throw error }
    }

    private final class WaitedOutcome: Sendable {
        let done = DispatchSemaphore(value: 0)
        let error = Mutex<(any Error)?>(nil)
    }

    private func record(_ id: Data) async throws {
        let key = names.sessions(process)
        let milliseconds = Self.recordLifetime.wholeMilliseconds
        let replies = try await redis.pipeline([
            ["SADD", RedisArgument(key), RedisArgument(Hex.encode(id))], ["PEXPIRE", RedisArgument(key), RedisArgument(milliseconds)],
        ])
        if let failure = replies.first(where: { if case .error = $0 { true } else { false } }) {
            throw RedisError(.server, "recording a MongoDB session failed: \(failure)")
        }
        recorded.withLock { _ = $0.insert(id) }
    }

    /// Keeps this process's record alive; called periodically while it runs.
    public func refresh() async {
        guard !recorded.withLock({ $0.isEmpty }) else { return }
        _ = try? await redis.send(PEXPIRE(names.sessions(process), after: Self.recordLifetime))
    }

    /// Kills the recorded sessions of `process` (never this one), aborting any transaction it left
    /// open; returns how many sessions it had.
    @discardableResult
    public func fence(_ process: String, client: MongoClient) async throws -> Int {
        guard process != self.process else { return 0 }
        let members = try await redis.execute(["SMEMBERS", RedisArgument(names.sessions(process))]).array ?? []
        let sessions: [BSONDocument] = members.compactMap { member in
            guard let text = member.string, let id = Hex.decode(text) else { return nil }
            return ["id": .binary(BSONBinary(data: Data(id), subtype: 4))]
        }
        try await client.killSessions(sessions)
        return sessions.count
    }

    /// The UUID of a session ID `{id: <UUID>}`; nil for anything else (such a session is not recorded).
    static func uuid(of sessionID: BSONDocument?) -> Data? {
        guard case .binary(let binary)? = sessionID?["id"], binary.subtype == 4 else { return nil }
        return binary.data
    }
}

extension MongoDatabase {
    /// A transaction whose session `fence` records first, when there is a fence.
    func withTransaction<T: Sendable>(
        fencedBy fence: SessionFence?, _ body: @escaping @Sendable (MongoTransaction) throws -> T
    ) async throws -> T {
        if let fence { return try await fence.withTransaction(self, body) }
        return try await withTransaction(body)
    }
}
