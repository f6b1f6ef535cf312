import Foundation
import Redis

/// The worker side of replies: XADD to the asking gateway's reply stream (kept short and expiring)
/// and store the result as the operation's state for 24 h, for `GET /v1/operations/{id}`.
public struct ReplyPublisher: Sendable {
    public let redis: RedisClient
    public let names: StreamNames
    public let retention: StreamRetention
    /// How long an operation's state stays readable.
    public let operationTTL: Duration

    public init(
        redis: RedisClient, names: StreamNames = StreamNames(), retention: StreamRetention = StreamRetention(),
        operationTTL: Duration = .seconds(86_400)
    ) {
        self.redis = redis
        self.names = names
        self.retention = retention
        self.operationTTL = operationTTL
    }

    /// `billing:op:<id>`: the operation's state.
    public func operationKey(_ id: String) -> String { "\(names.prefix):op:\(id)" }

    // One round trip for a whole batch: per reply, store the operation state and (when a gateway
    // waits) append to its reply stream, bound the stream and (re)arm its expiry; and report which
    // operations the gateway answered with 202 (their marker exists), for `operation.completed`.
    // KEYS: op key, reply stream (the op key again when nobody waits) and async marker per reply.
    // ARGV: max length, stream TTL ms, operation TTL ms, then per reply: state, reply JSON, waits (1/0).
    static let appendReplies = RedisScript(
        """
        local async = {}
        for i = 1, #KEYS, 3 do
          local a = 4 + 3 * ((i - 1) / 3)
          redis.call('SET', KEYS[i], ARGV[a], 'PX', ARGV[3])
          if ARGV[a + 2] == '1' then
            redis.call('XADD', KEYS[i + 1], 'MAXLEN', '~', ARGV[1], '*', 'envelope', ARGV[a + 1])
            redis.call('PEXPIRE', KEYS[i + 1], ARGV[2])
          end
          if redis.call('EXISTS', KEYS[i + 2]) == 1 then async[#async + 1] = (i - 1) / 3 end
        end
        return async
        """)

    /// Delivers `reply` for `command`: to its reply stream (if a gateway waits) and as operation state.
    public func publish(_ reply: Reply, for command: Envelope) async throws {
        try await publish([(reply, command)])
    }

    /// Delivers a batch of replies in one round trip (all or none: on error, none is known delivered).
    public func publish(_ batch: [(Reply, Envelope)]) async throws {
        guard !batch.isEmpty else { return }
        var keys: [String] = []
        var arguments: [RedisArgument] = [
            RedisArgument(retention.replyMaxLength), RedisArgument(retention.replyStreamTTL.components.seconds * 1000),
            RedisArgument(operationTTL.components.seconds * 1000),
        ]
        keys.reserveCapacity(batch.count * 3)
        arguments.reserveCapacity(3 + batch.count * 3)
        for (reply, command) in batch {
            let key = operationKey(reply.id)
            keys.append(key)
            keys.append(command.replyTo.isEmpty ? key : command.replyTo)
            keys.append(OperationCompleted.asyncMarkerKey(names, reply.id))
            let replyJSON = try MessageCoding.encode(reply)
            let storedJSON = reply.secretFields == nil ? replyJSON : try MessageCoding.encode(reply.redacted())
            let state = OperationRecord.data(
                replyJSON: storedJSON, subject: command.principal.subject, tenant: command.principal.tenant,
                customerID: command.principal.customerID)
            arguments.append(RedisArgument(bytes: Array(state)))
            arguments.append(RedisArgument(bytes: command.replyTo.isEmpty ? [] : Array(replyJSON)))
            arguments.append(RedisArgument(command.replyTo.isEmpty ? "0" : "1"))
        }
        let answeredAsync = try await redis.eval(Self.appendReplies, keys: keys, arguments: arguments)
        // Answered with 202: the client is told by an `operation.completed` event. Its ID comes from
        // the operation's, so should the gateway raise it too (a race it settles), consumers dedupe.
        let bus = CommandBus(redis: redis, names: names, retention: retention)
        for index in answeredAsync.array ?? [] {
            guard let position = index.int, batch.indices.contains(position) else { continue }
            let (reply, command) = batch[position]
            try await bus.publish(
                OperationCompleted.event(
                    for: reply.redacted(), subject: command.principal.subject, tenant: command.principal.tenant,
                    customerID: command.principal.customerID, createdAt: command.createdAt))
        }
    }
}

/// An operation's stored state: the reply, and who may read it.
public struct OperationRecord: Sendable, Hashable, Codable {
    public var reply: Reply
    public var subject: String
    public var tenant: String
    /// The customer who asked, when a customer did (for `operation.completed` scoping).
    public var customerID: String?

    enum CodingKeys: String, CodingKey {
        case reply, subject, tenant
        case customerID = "customer_id"
    }
}
