import BillingDomain
import Foundation
import Mongo
import Redis

/// What a handler answers: an HTTP-like status and a JSON body for the reply.
public struct HandlerResult: Sendable, Hashable {
    public var status: Int
    public var body: JSONValue

    public init(status: Int = 200, body: JSONValue) {
        self.status = status
        self.body = body
    }
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

    /// Raises a domain event; it is written to the outbox in this transaction and published after commit.
    public func emit(_ type: String, payload: JSONValue) {
        events.append(
            Envelope(
                type: type, correlationID: envelope.correlationID, causationID: envelope.id, principal: envelope.principal,
                traceparent: envelope.traceparent, payload: payload, createdAt: now))
    }

    /// Sends a command to another service's stream once this transaction commits (through the
    /// outbox, so a crash after commit still sends it). Give a deterministic `id` when the same
    /// command must not run twice; by default it acts as this service (role `system`) in the tenant.
    public func send(
        _ type: String, to service: String, payload: JSONValue, id: String = MessageID.make(), principal: Principal? = nil
    ) {
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
}

/// Handlers by message type; `*` matches every type (event consumers).
public struct HandlerRegistry: Sendable {
    private var handlers: [String: CommandHandler] = [:]

    public init() {}

    public mutating func write(_ type: String, _ body: @escaping @Sendable (CommandContext) throws -> HandlerResult) {
        handlers[type] = .write(body)
    }

    public mutating func read(
        _ type: String, _ body: @escaping @Sendable (Envelope, ReadContext) async throws -> HandlerResult
    ) {
        handlers[type] = .read(body)
    }

    public func handler(for type: String) -> CommandHandler? { handlers[type] ?? handlers["*"] }

    public var types: [String] { handlers.keys.sorted() }
}
