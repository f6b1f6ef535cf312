import MessageBus
import Foundation
import Logging
import Mongo
import Redis

/// Runs messages through their handlers with effectively-once effects: each state change commits
/// in one MongoDB transaction with the message's ledger entry (and its outbox events), and a
/// message already in the ledger gets its stored reply again without running.
public struct CommandProcessor: Sendable {
    /// What happened to one message.
    public enum Outcome: Sendable, Hashable {
        /// The handler ran now and its effects committed (or it refused with a recorded problem).
        case applied(Reply)
        /// The ledger already had it: nothing ran; this is the stored reply.
        case alreadyApplied(Reply)
        /// Not executed: its deadline had passed.
        case expired(Reply)

        public var reply: Reply {
            switch self {
            case .applied(let r), .alreadyApplied(let r), .expired(let r): r
            }
        }
    }

    /// The ledger's name for this consumer (the service, or the event consumer's group).
    public let group: String
    public let registry: HandlerRegistry
    public let database: MongoDatabase
    public let redis: RedisClient
    /// The billing clock handlers see as "now".
    public let clock: any BillingClock
    /// Real time, for deadlines and ledger expiry (a test clock may stand anywhere).
    public let wallClock: any BillingClock
    public let logger: Logger
    /// Records the sessions of this processor's transactions, so a consumer reclaiming our
    /// entries after we died can abort what we left open (set by ``ConsumerGroupRunner``).
    public var fence: SessionFence?
    /// Keeps the whole reply of a secret-bearing answer sealed in the ledger until it is published
    /// (set for services whose answers hold secrets: auth, webhook).
    public var sealer: ReplySealer?

    public init(
        group: String, registry: HandlerRegistry, database: MongoDatabase, redis: RedisClient,
        clock: any BillingClock = SystemBillingClock(), wallClock: any BillingClock = SystemBillingClock(),
        logger: Logger = Logger(label: "billing.processor")
    ) {
        self.group = group
        self.registry = registry
        self.database = database
        self.redis = redis
        self.clock = clock
        self.wallClock = wallClock
        self.logger = logger
    }

    func ledgerID(_ envelope: Envelope) -> String { "\(group):\(envelope.id)" }

    /// A transaction on the processor's database, its session recorded when there is a fence.
    private func withTransaction<T: Sendable>(_ body: @escaping @Sendable (MongoTransaction) throws -> T) async throws -> T {
        try await database.withTransaction(fencedBy: fence, body)
    }

    /// Processes a batch; state changes of several messages may share one transaction, but each
    /// message's effects stand alone: if any of them fails, the batch is rerun one message per
    /// transaction. A failure here is infrastructure (or a bug): the message stays unacknowledged.
    nonisolated(nonsending) public func process(_ batch: [Envelope]) async -> [Result<Outcome, any Error>] {
        let now = clock.now()
        let wallNow = wallClock.now()
        var results = [Result<Outcome, any Error>?](repeating: nil, count: batch.count)
        var writes: [(Int, Envelope, @Sendable (CommandContext) throws -> HandlerResult)] = []
        await withTaskGroup(of: (Int, Result<Outcome, any Error>).self) { group in
            for (index, envelope) in batch.enumerated() {
                if let deadline = envelope.deadline, deadline < wallNow {
                    results[index] = .success(.expired(.failure(to: envelope, .deadlineExceeded(envelope.id), at: wallNow)))
                    continue
                }
                switch registry.handler(for: envelope.type) {
                case .write(let body):
                    writes.append((index, envelope, body))
                case .read(let body):
                    let context = ReadContext(database: database, redis: redis, now: now)
                    group.addImmediateTask {
                        do {
                            let result = try await body(envelope, context)
                            return (
                                index,
                                .success(
                                    .applied(
                                        .success(
                                            to: envelope, status: result.status, result: result.body, at: now,
                                            secretFields: result.secretFields))))
                        } catch let refusal as any ProblemConvertible {
                            let problem = refusal.problem
                            return (index, .success(.applied(.failure(to: envelope, problem, at: now))))
                        } catch {
                            return (index, .failure(error))
                        }
                    }
                case .transact(let body):
                    group.addTask {
                        (index, await self.runTransact(envelope, body, now: now, wallNow: wallNow))
                    }
                case nil:
                    results[index] = .failure(
                        Problem(status: 500, code: "no_handler", title: "No handler", detail: "no handler for \(envelope.type)"))
                }
            }
            for await (index, result) in group { results[index] = result }
        }
        if !writes.isEmpty {
            for (index, result) in await processWrites(writes, now: now, wallNow: wallNow) { results[index] = result }
        }
        return results.map { $0 ?? .failure(Problem(status: 500, code: "internal", title: "Internal", detail: "lost result")) }
    }

    private func processWrites(
        _ writes: [(Int, Envelope, @Sendable (CommandContext) throws -> HandlerResult)], now: Date, wallNow: Date
    ) async -> [(Int, Result<Outcome, any Error>)] {
        if writes.count > 1 {
            do {
                let outcomes = try await transaction(writes.map { ($0.1, $0.2) }, now: now, wallNow: wallNow)
                return zip(writes.map(\.0), outcomes).map { ($0, .success($1)) }
            } catch {
                logger.debug("batch transaction failed, retrying one by one", metadata: ["error": "\(error)"])
            }
        }
        var results: [(Int, Result<Outcome, any Error>)] = []
        for (index, envelope, body) in writes {
            do {
                results.append((index, .success(try await transaction([(envelope, body)], now: now, wallNow: wallNow)[0])))
            } catch let refusal as any ProblemConvertible {
                let problem = refusal.problem
                // Refused: roll back the handler's writes, but record the refusal so a redelivery answers the same.
                do {
                    results.append((index, .success(try await recordRefusal(envelope, problem, now: now, wallNow: wallNow))))
                } catch {
                    results.append((index, .failure(error)))
                }
            } catch {
                results.append((index, .failure(error)))
            }
        }
        return results
    }

    /// The ledger already held one of the batch's messages (found by its unique `_id` at insert).
    private struct AlreadyInLedger: Error {}

    /// Runs the batch in one transaction. Optimistically first: the ledger is not read beforehand, and
    /// a message already in it shows up as a duplicate `_id` when the batch's entries are inserted;
    /// then everything rolls back and the batch runs again reading the ledger first. A first delivery,
    /// the common case, so costs one round trip less.
    private func transaction(
        _ items: [(Envelope, @Sendable (CommandContext) throws -> HandlerResult)], now: Date, wallNow: Date
    ) async throws -> [Outcome] {
        let committed: (outcomes: [Outcome], afterCommit: [AfterCommitAction])
        do {
            committed = try await transaction(items, now: now, wallNow: wallNow, readLedgerFirst: false)
        } catch is AlreadyInLedger {
            committed = try await transaction(items, now: now, wallNow: wallNow, readLedgerFirst: true)
        }
        for action in committed.afterCommit {
            do {
                try await action(redis)
            } catch {
                logger.warning("an after-commit action failed", metadata: ["error": "\(error)"])
            }
        }
        return committed.outcomes
    }

    private func transaction(
        _ items: [(Envelope, @Sendable (CommandContext) throws -> HandlerResult)], now: Date, wallNow: Date,
        readLedgerFirst: Bool
    ) async throws -> (outcomes: [Outcome], afterCommit: [AfterCommitAction]) {
        let group = self.group
        let service = group
        let ids = items.map { ledgerID($0.0) }
        return try await withTransaction { txn in
            let ledger = txn.collection(MessagingStore.processed, as: ProcessedMessage.self)
            var seen = [String: ProcessedMessage]()
            if readLedgerFirst {
                for entry in try ledger.find(["_id": ["$in": .array(ids.map { .string($0) })]]) { seen[entry.id] = entry }
            }
            var outcomes: [Outcome] = []
            var records: [ProcessedMessage] = []
            var events: [OutboxEntry] = []
            var afterCommit: [AfterCommitAction] = []
            for ((envelope, body), ledgerID) in zip(items, ids) {
                if let entry = seen[ledgerID] {
                    outcomes.append(.alreadyApplied(try storedReply(entry)))
                    continue
                }
                let context = CommandContext(envelope: envelope, transaction: txn, now: now, service: service)
                let result = try body(context)
                let reply =
                    context.failure.map { Reply.failure(to: envelope, $0, at: now) }
                    ?? Reply.success(
                        to: envelope, status: result.status, result: result.body, at: now, secretFields: result.secretFields)
                records.append(try ledgerEntry(ledgerID, envelope: envelope, reply: reply, now: wallNow))
                events += try context.outboxEntries()
                afterCommit += context.afterCommitActions
                outcomes.append(.applied(reply))
            }
            if !records.isEmpty {
                do {
                    _ = try ledger.insertMany(records)
                } catch let error as MongoError
                    where !readLedgerFirst
                    && (error.code == .duplicateKey || error.writeErrors.contains { [11000, 11001, 12582].contains($0.serverCode) })
                {
                    throw AlreadyInLedger()
                }
            }
            if !events.isEmpty { _ = try txn.collection(MessagingStore.outbox, as: OutboxEntry.self).insertMany(events) }
            return (outcomes, afterCommit)
        }
    }

    /// A `transact` handler: answered from the ledger if it is there; otherwise run, with its one
    /// commit recording the ledger entry (a concurrent delivery that committed first wins).
    private func runTransact(
        _ envelope: Envelope, _ body: @Sendable (Envelope, TransactContext) async throws -> HandlerResult, now: Date,
        wallNow: Date
    ) async -> Result<Outcome, any Error> {
        let ledgerID = ledgerID(envelope)
        do {
            if let entry = try await database.collection(MessagingStore.processed, as: ProcessedMessage.self).findOne([
                "_id": .string(ledgerID)
            ]) {
                return .success(.alreadyApplied(try storedReply(entry)))
            }
            let context = TransactContext(
                database: database, redis: redis, now: now, envelope: envelope, service: group, fence: fence
            ) { commitBody in
                do {
                    let outcome = try await self.transaction([(envelope, commitBody)], now: now, wallNow: wallNow)[0]
                    return (outcome.reply, true)
                } catch let refusal as any ProblemConvertible {
                    let problem = refusal.problem
                    // Refused inside the commit: rolled back, the refusal recorded.
                    return (try await self.recordRefusal(envelope, problem, now: now, wallNow: wallNow).reply, true)
                }
            }
            do {
                let result = try await body(envelope, context)
                if let committed = context.committedReply { return .success(.applied(committed)) }
                // Nothing to commit (a read, or an answer that changes nothing): recorded so a redelivery answers the same.
                let reply = Reply.success(
                    to: envelope, status: result.status, result: result.body, at: now, secretFields: result.secretFields)
                return .success(try await recordAnswer(envelope, reply, wallNow: wallNow))
            } catch let refusal as CommittedRefusal {
                return .success(.applied(context.committedReply ?? .failure(to: envelope, refusal.problem, at: now)))
            } catch let refusal as any ProblemConvertible {
                let problem = refusal.problem
                if let committed = context.committedReply { return .success(.applied(committed)) }
                return .success(try await recordRefusal(envelope, problem, now: now, wallNow: wallNow))
            }
        } catch {
            return .failure(error)
        }
    }

    /// Records `reply` in the ledger on its own (no handler writes), unless the ledger already has
    /// the message: then that stored reply is the answer.
    private func recordAnswer(_ envelope: Envelope, _ reply: Reply, wallNow: Date) async throws -> Outcome {
        let ledgerID = ledgerID(envelope)
        return try await withTransaction { txn in
            let ledger = txn.collection(MessagingStore.processed, as: ProcessedMessage.self)
            if let entry = try ledger.findOne(["_id": .string(ledgerID)]) {
                return .alreadyApplied(try self.storedReply(entry))
            }
            _ = try ledger.insertOne(try self.ledgerEntry(ledgerID, envelope: envelope, reply: reply, now: wallNow))
            return .applied(reply)
        }
    }

    private func recordRefusal(_ envelope: Envelope, _ problem: Problem, now: Date, wallNow: Date) async throws -> Outcome {
        try await recordAnswer(envelope, .failure(to: envelope, problem, at: now), wallNow: wallNow)
    }

    /// The ledger entry of `reply`: redacted, and with the whole reply sealed beside it when it
    /// holds secrets and this processor has a ``sealer``.
    func ledgerEntry(_ id: String, envelope: Envelope, reply: Reply, now: Date) throws -> ProcessedMessage {
        ProcessedMessage(
            id: id, group: group, type: envelope.type,
            reply: String(decoding: try MessageCoding.encode(reply.redacted()), as: UTF8.self),
            sealedReply: reply.secretFields == nil ? nil : try sealer?.seal(reply, ledgerID: id),
            processedAt: now, expireAt: now.addingTimeInterval(MessagingStore.ledgerRetention))
    }

    /// A ledger entry's reply: the sealed whole one while it is there, else the stored (redacted) one.
    func storedReply(_ entry: ProcessedMessage) throws -> Reply {
        if let sealed = entry.sealedReply, let reply = sealer?.open(sealed, ledgerID: entry.id) { return reply }
        return try MessageCoding.decode(Reply.self, from: entry.reply)
    }

    /// Deletes the sealed copies of these messages' replies, once published.
    func forgetSealedReplies(_ envelopes: [Envelope]) async throws {
        guard sealer != nil, !envelopes.isEmpty else { return }
        _ = try await database.collection(MessagingStore.processed, as: BSONDocument.self).updateMany(
            ["_id": ["$in": .array(envelopes.map { .string(ledgerID($0)) })]], update: ["$unset": ["sealed_reply": ""]])
    }
}
