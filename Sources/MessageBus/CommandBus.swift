import Foundation
import Redis

/// Puts envelopes on streams: commands on `billing:cmd:<service>`, events on `billing:events`, each
/// refused when the stream holds its capacity (``StreamRetention``).
public struct CommandBus: Sendable {
    /// The stream field that holds the envelope's JSON.
    public static let envelopeField = "envelope"

    public let redis: RedisClient
    public let names: StreamNames
    public let retention: StreamRetention

    public init(redis: RedisClient, names: StreamNames = StreamNames(), retention: StreamRetention = StreamRetention()) {
        self.redis = redis
        self.names = names
        self.retention = retention
    }

    /// Sends a command to a service's stream; returns the stream entry ID.
    @discardableResult
    nonisolated(nonsending) public func send(_ envelope: Envelope, to service: String) async throws -> String {
        try await append(envelope, to: names.commands(service))
    }

    /// Publishes a domain event to `billing:events`.
    @discardableResult
    nonisolated(nonsending) public func publish(_ event: Envelope) async throws -> String {
        try await append(event, to: names.events)
    }

    /// What XADD puts on a service's command stream for `envelope`: the stream, the entry's fields
    /// and the stream's capacity (``StreamRetention/maxEntries``). For callers that add the entry
    /// themselves (the gateway adds it in the script that also admits the request).
    public func commandEntry(_ envelope: Envelope, to service: String) throws
        -> (stream: String, fields: [(String, RedisArgument)], maxEntries: Int)
    {
        (
            names.commands(service),
            [(Self.envelopeField, RedisArgument(bytes: envelope.jsonBytes)), ("type", RedisArgument(envelope.type))],
            retention.maxEntries
        )
    }

    // XADD unless the stream holds its capacity already. KEYS: stream. ARGV: capacity, then field
    // and value pairs. Returns the entry ID, or nil when the stream is full.
    static let appendScript = RedisScript(
        """
        if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return false end
        return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
        """)

    /// Appends the envelope unless the stream is full (``StreamFull``: the caller keeps it and
    /// retries; the outbox relay leaves it in the outbox). Trimming is ``StreamJanitor``'s, which
    /// never trims what a group has not processed.
    nonisolated(nonsending) func append(_ envelope: Envelope, to stream: String) async throws -> String {
        try await append(
            [(Self.envelopeField, RedisArgument(bytes: envelope.jsonBytes)), ("type", RedisArgument(envelope.type))],
            to: stream)
    }

    /// Appends an entry of these fields unless the stream is full (``StreamFull``).
    @discardableResult
    nonisolated(nonsending) public func append(_ fields: [(String, RedisArgument)], to stream: String) async throws -> String {
        let reply = try await redis.eval(
            Self.appendScript, keys: [stream],
            arguments: [RedisArgument(retention.maxEntries)] + fields.flatMap { [RedisArgument($0.0), $0.1] })
        guard let id = reply.string else {
            if reply.isNull { throw StreamFull(stream: stream, maxEntries: retention.maxEntries) }
            throw RedisError(.unexpectedReply, "XADD to \(stream) returned \(reply)")
        }
        return id
    }
}

/// A stream holds ``StreamRetention/maxEntries`` entries (a backlog nobody drains): nothing was added.
public struct StreamFull: Error, CustomStringConvertible, ProblemConvertible {
    public let stream: String
    public let maxEntries: Int
    public var description: String { "\(stream) holds \(maxEntries) entries, its capacity; nothing was added" }
    /// What a handler that appends (the admin's dead-letter retry) answers: the edge's own refusal.
    public var problem: Problem {
        Problem(
            status: 503, code: "backlog_full", title: "Service busy",
            detail: "the stream holds its capacity (a backlog is draining); nothing was done, retry later", retryAfter: 5)
    }
}
