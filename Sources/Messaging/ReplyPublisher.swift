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

    // One round trip for a whole batch: per reply, store the operation state; append the replies a
    // gateway waits for to its reply stream, all of a batch's replies to one stream in one entry
    // (field `envelope` for one reply, `replies` with a JSON array for several), then bound that
    // stream and (re)arm its expiry; report which operations the gateway answered with 202 (their
    // marker exists), for `operation.completed`; then XACK the batch's entries, so they are
    // acknowledged exactly when their answers exist (one round trip less per batch than a separate XACK).
    // KEYS: command stream, then per reply: op key, reply stream (the op key again when nobody
    // waits), async marker.
    // ARGV: max length, stream TTL ms, operation TTL ms, group, number of replies, then per reply:
    // state, reply JSON, how it is answered (1: a gateway waits; 2: the client got 202 at once;
    // 0: nobody waits, a 202 is known by its marker); then the entry IDs to acknowledge.
    static let appendReplies = RedisScript(
        """
        local async = {}
        local waiting = {}
        local streams = {}
        local count = tonumber(ARGV[5])
        for r = 0, count - 1 do
          local k = 2 + 3 * r
          local a = 6 + 3 * r
          redis.call('SET', KEYS[k], ARGV[a], 'PX', ARGV[3])
          if ARGV[a + 2] == '1' then
            local stream = KEYS[k + 1]
            local list = waiting[stream]
            if not list then
              list = {}
              waiting[stream] = list
              streams[#streams + 1] = stream
            end
            list[#list + 1] = ARGV[a + 1]
          end
          if ARGV[a + 2] == '2' or redis.call('EXISTS', KEYS[k + 2]) == 1 then async[#async + 1] = r end
        end
        for _, stream in ipairs(streams) do
          local list = waiting[stream]
          if #list == 1 then
            redis.call('XADD', stream, 'MAXLEN', '~', ARGV[1], '*', 'envelope', list[1])
          else
            redis.call('XADD', stream, 'MAXLEN', '~', ARGV[1], '*', 'replies', '[' .. table.concat(list, ',') .. ']')
          end
          redis.call('PEXPIRE', stream, ARGV[2])
        end
        local first = 6 + 3 * count
        for i = first, #ARGV, 1000 do
          redis.call('XACK', KEYS[1], ARGV[4], unpack(ARGV, i, math.min(i + 999, #ARGV)))
        end
        return async
        """)

    /// The reply-stream field of an entry that holds several replies (a JSON array); an entry
    /// with one reply holds it in ``CommandBus/envelopeField``.
    public static let repliesField = "replies"

    /// Delivers `reply` for `command`: to its reply stream (if a gateway waits) and as operation state.
    public func publish(_ reply: Reply, for command: Envelope) async throws {
        try await publish([(reply, command)])
    }

    /// The stream entries a batch's answers acknowledge: XACKed in the same script, after the answers.
    public struct Acknowledgement: Sendable {
        public var stream: String
        public var group: String
        public var ids: [String]

        public init(stream: String, group: String, ids: [String]) {
            self.stream = stream
            self.group = group
            self.ids = ids
        }
    }

    /// Delivers a batch of replies in one round trip (all or none: on error, none is known
    /// delivered), acknowledging `acknowledging`'s entries in the same script.
    nonisolated(nonsending) public func publish(_ batch: [(Reply, Envelope)], acknowledging: Acknowledgement? = nil) async throws {
        guard !batch.isEmpty || !(acknowledging?.ids.isEmpty ?? true) else { return }
        var keys: [String] = [acknowledging?.stream ?? ""]
        var arguments: [RedisArgument] = [
            RedisArgument(retention.replyMaxLength), RedisArgument(retention.replyStreamTTL.components.seconds * 1000),
            RedisArgument(operationTTL.components.seconds * 1000), RedisArgument(acknowledging?.group ?? ""),
            RedisArgument(batch.count),
        ]
        keys.reserveCapacity(1 + batch.count * 3)
        arguments.reserveCapacity(5 + batch.count * 3 + (acknowledging?.ids.count ?? 0))
        for (reply, command) in batch {
            let key = operationKey(reply.id)
            keys.append(key)
            keys.append(command.replyTo.isEmpty ? key : command.replyTo)
            keys.append(OperationCompleted.asyncMarkerKey(names, reply.id))
            let replyJSON = reply.jsonBytes
            let storedJSON = reply.secretFields == nil ? replyJSON : reply.redacted().jsonBytes
            let state = OperationRecord.data(
                replyJSON: storedJSON, subject: command.principal.subject, tenant: command.principal.tenant,
                customerID: command.principal.customerID)
            arguments.append(RedisArgument(bytes: state))
            arguments.append(RedisArgument(bytes: command.replyTo.isEmpty ? [] : replyJSON))
            arguments.append(RedisArgument(!command.replyTo.isEmpty ? "1" : command.respondAsync == true ? "2" : "0"))
        }
        for id in acknowledging?.ids ?? [] { arguments.append(RedisArgument(id)) }
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
