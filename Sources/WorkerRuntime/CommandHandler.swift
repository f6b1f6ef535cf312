import Contracts
import Foundation
import MessageBus
import Mongo
import NIOPosix
import Redis
import Synchronization

/// What a handler answers on the wire: an HTTP-like status and a JSON body for the reply (a
/// command's typed ``Answer`` encoded; an event consumer's answer as it is).
public struct HandlerResult: Sendable, Hashable {
    public var status: Int
    public var body: JSONValue
    /// Top-level members of `body` that are secrets shown once: never stored (see ``Reply/redacted()``).
    public var secretFields: [String]

    public init(status: Int = 200, body: JSONValue, secretFields: [String] = []) {
        self.status = status
        self.body = body
        self.secretFields = secretFields
    }
}

/// What a command's handler answers: a status and the command's typed ``BusCommand/Response``,
/// encoded once into the reply's JSON (``result()``) by the registry.
public struct Answer<Body: Encodable & Sendable>: Sendable {
    public var status: Int
    /// Top-level members of the body that are secrets shown once (by default its type's,
    /// ``ShowsSecretsOnce``): never stored (see ``Reply/redacted()``).
    public var secretFields: [String]
    private var content: Content

    private enum Content: Sendable {
        case body(Body?)
        /// A `Body` already encoded: a committed transaction's reply, a cached copy.
        case encoded(JSONValue)
    }

    public init(status: Int = 200, _ body: Body, secretFields: [String]? = nil) {
        self.status = status
        self.content = .body(body)
        self.secretFields = secretFields ?? (Body.self as? any ShowsSecretsOnce.Type)?.secretFields ?? []
    }

    /// No body (`null`): an answer that ``CommandContext/fail(with:)`` replaces with its problem.
    public static func withoutBody(status: Int) -> Answer { Answer(status: status, content: .body(nil), secretFields: []) }

    /// A body this type encoded before: the reply a transaction committed, or a read cache's copy of one.
    public static func encoded(_ json: JSONValue, status: Int = 200, secretFields: [String] = []) -> Answer {
        Answer(status: status, content: .encoded(json), secretFields: secretFields)
    }

    private init(status: Int, content: Content, secretFields: [String]) {
        self.status = status
        self.content = content
        self.secretFields = secretFields
    }

    /// The reply's wire form.
    public func result() throws -> HandlerResult {
        switch content {
        case .body(let body?):
            // Only the secrets this answer holds (a listed endpoint has no `secret`): a reply without any
            // is stored as it is.
            let json = try ValueEncoder.encode(body)
            return HandlerResult(status: status, body: json, secretFields: secretFields.filter { json[$0] != nil })
        case .body(nil): return HandlerResult(status: status, body: .null, secretFields: secretFields)
        case .encoded(let json): return HandlerResult(status: status, body: json, secretFields: secretFields)
        }
    }
}

extension Answer where Body == NoContent {
    /// `204 No Content`.
    public static var noContent: Answer { Answer(status: 204, NoContent()) }
}

/// Everything a state-changing handler may touch: the transaction, the time, and the events it raises.
/// Lives on one pool thread for one attempt of one transaction.
public final class CommandContext {
    public let envelope: Envelope
    public let transaction: MongoTransaction
    public let now: Date
    public let service: String
    private(set) var events: [Envelope] = []
    /// Commands for other services, sent through the outbox after commit: (service, command).
    private(set) var commands: [(String, Envelope)] = []
    private(set) var afterCommitActions: [AfterCommitAction] = []

    /// Runs `action` once this transaction has committed (not if it rolls back, and not on a redelivery
    /// answered from the ledger), before the reply is sent: for Redis state derived from MongoDB
    /// (caches to drop, keys to publish). Its failure is logged, not reported: keep such state
    /// re-derivable from MongoDB.
    public func afterCommit(_ action: @escaping AfterCommitAction) {
        afterCommitActions.append(action)
    }

    init(envelope: Envelope, transaction: MongoTransaction, now: Date, service: String) {
        self.envelope = envelope
        self.transaction = transaction
        self.now = now
        self.service = service
    }

    /// Set by ``fail(with:)``: the writes commit, but the answer is this problem.
    private(set) var failure: Problem?

    /// Commits this transaction's writes and events (an audit record, a counter) but answers the
    /// command with `problem`; a redelivery answers the same. Throw the problem instead to roll back.
    public func fail(with problem: Problem) {
        failure = problem
    }

    /// The outbox entries for what this context raised and sent.
    func outboxEntries() throws -> [OutboxEntry] {
        var entries: [OutboxEntry] = []
        for event in events {
            entries.append(
                OutboxEntry(
                    id: event.id, type: event.type, envelope: String(decoding: try MessageCoding.encode(event), as: UTF8.self),
                    createdAt: now))
        }
        for (target, command) in commands {
            entries.append(
                OutboxEntry(
                    id: command.id, type: command.type,
                    envelope: String(decoding: try MessageCoding.encode(command), as: UTF8.self), service: target,
                    createdAt: now))
        }
        return entries
    }

    /// Raises a domain event; it is written to the outbox in this transaction and published after commit.
    public func emit(_ type: EventType, payload: JSONValue) {
        events.append(
            Envelope(
                type: type.name, correlationID: envelope.correlationID, causationID: envelope.id, principal: envelope.principal,
                traceparent: envelope.traceparent, payload: payload, createdAt: now))
    }

    /// Sends a command to another service's stream once this transaction commits (through the
    /// outbox, so a crash after commit still sends it). Give a deterministic `id` when the same
    /// command must not run twice; by default it acts as this service (role `system`) in the tenant.
    public func send<C: BusCommand>(
        _ command: C.Type, payload: JSONValue, id: String = MessageID.make(), principal: Principal? = nil
    ) {
        let (type, service) = (C.name, C.service)
        let actor = principal ?? Principal(subject: "service:\(self.service)", role: .system, tenant: envelope.principal.tenant)
        commands.append(
            (
                service,
                Envelope(
                    id: id, type: type, correlationID: envelope.correlationID, causationID: envelope.id, principal: actor,
                    traceparent: envelope.traceparent, payload: payload, createdAt: now)
            ))
    }
}

/// What a ``CommandHandler/transact(_:)`` handler may touch: Redis, reads, a pool for blocking or
/// CPU-heavy work, and one ``commit(_:)``.
public final class TransactContext: Sendable {
    public let database: MongoDatabase
    public let redis: RedisClient
    public let now: Date
    let envelope: Envelope
    let service: String
    /// Records the sessions of ``step(at:_:)``'s transactions, as the processor's own are.
    let fence: SessionFence?
    let run: @Sendable (@escaping @Sendable (CommandContext) throws -> HandlerResult) async throws -> (Reply, Bool)
    private let committed = Mutex<Reply?>(nil)

    init(
        database: MongoDatabase, redis: RedisClient, now: Date, envelope: Envelope, service: String, fence: SessionFence?,
        run: @escaping @Sendable (@escaping @Sendable (CommandContext) throws -> HandlerResult) async throws -> (Reply, Bool)
    ) {
        self.database = database
        self.redis = redis
        self.now = now
        self.envelope = envelope
        self.service = service
        self.fence = fence
        self.run = run
    }

    /// Commits one intermediate step in a transaction of its own, its events and commands with it
    /// (a long operation, such as advancing a test clock, made of many transitions). Not recorded
    /// in the ledger: a redelivery runs the handler again, so each step must find its own work
    /// already done (check the state it changes). Then ``commit(_:)`` records the whole.
    public func step<T: Sendable>(at time: Date, _ body: @escaping @Sendable (CommandContext) throws -> T) async throws -> T {
        let envelope = self.envelope
        let service = self.service
        return try await database.withTransaction(fencedBy: fence) { txn in
            let context = CommandContext(envelope: envelope, transaction: txn, now: time, service: service)
            let result = try body(context)
            let entries = try context.outboxEntries()
            if !entries.isEmpty { _ = try txn.collection(MessagingStore.outbox, as: OutboxEntry.self).insertMany(entries) }
            return result
        }
    }

    /// Runs `body` in one transaction with the message's ledger entry (and its events and commands);
    /// returns what it answered. Call it at most once.
    public func commit<Body>(_ body: @escaping @Sendable (CommandContext) throws -> Answer<Body>) async throws -> Answer<Body> {
        let (reply, _) = try await run { context in try body(context).result() }
        committed.withLock { $0 = reply }
        if let error = reply.error { throw CommittedRefusal(problem: error) }
        return .encoded(reply.result ?? .null, status: reply.httpStatus, secretFields: reply.secretFields ?? [])
    }

    /// Runs blocking or CPU-heavy work (a password hash) on NIO's shared thread pool, off Swift's
    /// cooperative pool and the event loops.
    public func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(work)
    }

    var committedReply: Reply? { committed.withLock { $0 } }
}

/// Thrown by ``TransactContext/commit(_:)`` when the committed transaction answered with a problem
/// (``CommandContext/fail(with:)``): the handler lets it propagate, and the recorded problem is the reply.
public struct CommittedRefusal: Error {
    public let problem: Problem
}

/// Work done after a handler's transaction committed, with the worker's Redis client.
public typealias AfterCommitAction = @Sendable (RedisClient) async throws -> Void

/// What a read-only handler may touch.
public struct ReadContext: Sendable {
    public let database: MongoDatabase
    public let redis: RedisClient
    public let now: Date
}

/// How one message type is handled.
public enum CommandHandler: Sendable {
    /// Changes state: runs inside a MongoDB transaction that also records the message as processed,
    /// so a redelivery changes nothing and re-sends the stored reply. Throw a ``Problem`` to refuse
    /// (its writes are rolled back; the refusal is recorded as the reply).
    case write(@Sendable (CommandContext) throws -> HandlerResult)
    /// Only reads: no transaction and no ledger; a redelivery simply runs it again.
    case read(@Sendable (Envelope, ReadContext) async throws -> HandlerResult)
    /// Does async work first (Redis, slow CPU work off the cooperative pool, reads), then changes state
    /// once through ``TransactContext/commit(_:)``, whose transaction records the message in the ledger
    /// like `write`. A message already in the ledger is answered from it without running.
    case transact(@Sendable (Envelope, TransactContext) async throws -> HandlerResult)
}

/// Handlers by message type, registered by command type (or event type, for the consumers of
/// `billing:events`); an `every…` handler takes whatever has no handler of its own.
public struct HandlerRegistry: Sendable {
    private var handlers: [String: CommandHandler] = [:]
    private static let everything = "*"

    public init() {}

    /// A write handler that reads the envelope's payload itself.
    public mutating func write<C: BusCommand>(
        _ command: C.Type, _ body: @escaping @Sendable (CommandContext) throws -> Answer<C.Response>
    ) {
        handlers[C.name] = .write { context in try body(context).result() }
    }

    /// A read handler that reads the envelope's payload itself.
    public mutating func read<C: BusCommand>(
        _ command: C.Type, _ body: @escaping @Sendable (Envelope, ReadContext) async throws -> Answer<C.Response>
    ) {
        handlers[C.name] = .read { envelope, context in try await body(envelope, context).result() }
    }

    /// A transact handler that reads the envelope's payload itself.
    public mutating func transact<C: BusCommand>(
        _ command: C.Type, _ body: @escaping @Sendable (Envelope, TransactContext) async throws -> Answer<C.Response>
    ) {
        handlers[C.name] = .transact { envelope, context in try await body(envelope, context).result() }
    }

    /// A write handler given the command's decoded ``BusCommand/Payload`` (a payload that does not
    /// decode is refused with a 422 naming the field, before the handler runs), answering its
    /// ``BusCommand/Response``.
    public mutating func write<C: BusCommand>(
        _ command: C.Type, _ body: @escaping @Sendable (CommandContext, C.Payload) throws -> Answer<C.Response>
    ) {
        handlers[C.name] = .write { context in try body(context, try C.payload(of: context.envelope)).result() }
    }

    /// A read handler given the command's decoded payload.
    public mutating func read<C: BusCommand>(
        _ command: C.Type, _ body: @escaping @Sendable (Envelope, ReadContext, C.Payload) async throws -> Answer<C.Response>
    ) {
        handlers[C.name] = .read { envelope, context in
            try await body(envelope, context, try C.payload(of: envelope)).result()
        }
    }

    /// A transact handler given the command's decoded payload.
    public mutating func transact<C: BusCommand>(
        _ command: C.Type, _ body: @escaping @Sendable (Envelope, TransactContext, C.Payload) async throws -> Answer<C.Response>
    ) {
        handlers[C.name] = .transact { envelope, context in
            try await body(envelope, context, try C.payload(of: envelope)).result()
        }
    }

    /// An event consumer's handler for one event type.
    public mutating func write(event: EventType, _ body: @escaping @Sendable (CommandContext) throws -> HandlerResult) {
        handlers[event.name] = .write(body)
    }

    /// An event consumer's handler for every event without a handler of its own.
    public mutating func writeEvery(_ body: @escaping @Sendable (CommandContext) throws -> HandlerResult) {
        handlers[Self.everything] = .write(body)
    }

    /// Answers every message without a handler of its own, reading only.
    public mutating func readEvery(_ body: @escaping @Sendable (Envelope, ReadContext) async throws -> HandlerResult) {
        handlers[Self.everything] = .read(body)
    }

    public func handler(for type: String) -> CommandHandler? { handlers[type] ?? handlers[Self.everything] }

    public var types: [String] { handlers.keys.sorted() }
}
