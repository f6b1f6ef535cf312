import Foundation
import Redis

/// Puts envelopes on streams: commands on `billing:cmd:<service>`, events on `billing:events`,
/// each trimmed by age (`MINID ~`) so a backlog stays replayable for the retention period.
public struct CommandBus: Sendable {
    /// The stream field that holds the envelope's JSON.
    public static let envelopeField = "envelope"

    public let redis: RedisClient
    public let names: StreamNames
    public let retention: StreamRetention
    /// Wall time for trimming: stream IDs carry Redis's real time, whatever a billing test clock says.
    public let wallClock: any BillingClock

    public init(
        redis: RedisClient, names: StreamNames = StreamNames(), retention: StreamRetention = StreamRetention(),
        wallClock: any BillingClock = SystemBillingClock()
    ) {
        self.redis = redis
        self.names = names
        self.retention = retention
        self.wallClock = wallClock
    }

    /// Sends a command to a service's stream; returns the stream entry ID.
    @discardableResult
    nonisolated(nonsending) public func send(_ envelope: Envelope, to service: String) async throws -> String {
        try await append(envelope, to: names.commands(service), keeping: retention.commands)
    }

    /// Publishes a domain event to `billing:events`.
    @discardableResult
    nonisolated(nonsending) public func publish(_ event: Envelope) async throws -> String {
        try await append(event, to: names.events, keeping: retention.events)
    }

    /// What XADD puts on a service's command stream for `envelope`: the stream, the entry's fields
    /// and the `MINID` below which entries are trimmed. For callers that add the entry themselves
    /// (the gateway adds it in the script that also admits the request).
    public func commandEntry(_ envelope: Envelope, to service: String) throws
        -> (stream: String, fields: [(String, RedisArgument)], minID: String)
    {
        try entry(envelope, to: names.commands(service), keeping: retention.commands)
    }

    private func entry(_ envelope: Envelope, to stream: String, keeping: Duration) throws
        -> (stream: String, fields: [(String, RedisArgument)], minID: String)
    {
        return (
            stream, [(Self.envelopeField, RedisArgument(bytes: envelope.jsonBytes)), ("type", RedisArgument(envelope.type))],
            Self.minID(before: wallClock.now(), keeping: keeping)
        )
    }

    /// XADD with the envelope JSON, trimming entries older than `keeping`.
    nonisolated(nonsending) func append(_ envelope: Envelope, to stream: String, keeping: Duration) async throws -> String {
        let entry = try entry(envelope, to: stream, keeping: keeping)
        let command = XADD(stream, fields: entry.fields, trim: .minID(entry.minID))
        guard let id = try await redis.send(command) else {
            throw RedisError(.unexpectedReply, "XADD to \(stream) returned no ID")
        }
        return id
    }

    /// The stream ID below which entries are older than the retention period.
    static func minID(before now: Date, keeping: Duration) -> String {
        let cutoff = now.timeIntervalSince1970 - Double(keeping.components.seconds)
        return "\(max(0, Int64(cutoff * 1000)))-0"
    }
}
