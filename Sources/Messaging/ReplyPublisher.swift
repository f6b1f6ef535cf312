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

    // One round trip, one key: append, bound the stream, and (re)arm its expiry.
    static let appendReply = RedisScript(
        """
        redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'envelope', ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        return 1
        """)

    /// Delivers `reply` for `command`: to its reply stream (if a gateway waits) and as operation state.
    public func publish(_ reply: Reply, for command: Envelope) async throws {
        let json = try MessageCoding.encode(reply)
        let record = OperationRecord(reply: reply, subject: command.principal.subject, tenant: command.principal.tenant)
        let state = try MessageCoding.encode(record)
        async let stored: Bool = redis.send(
            SET(operationKey(reply.id), value: RedisArgument(bytes: Array(state)), expiry: .milliseconds(Int(operationTTL.components.seconds * 1000))))
        if !command.replyTo.isEmpty {
            _ = try await redis.eval(
                Self.appendReply, keys: [command.replyTo],
                arguments: [
                    RedisArgument(retention.replyMaxLength), RedisArgument(bytes: Array(json)),
                    RedisArgument(retention.replyStreamTTL.components.seconds * 1000),
                ])
        }
        _ = try await stored
    }
}

/// An operation's stored state: the reply, and who may read it.
public struct OperationRecord: Sendable, Hashable, Codable {
    public var reply: Reply
    public var subject: String
    public var tenant: String
}
