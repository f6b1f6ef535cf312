import BillingDomain
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
    public func send(_ envelope: Envelope, to service: String) async throws -> String {
        try await append(envelope, to: names.commands(service), keeping: retention.commands)
    }

    /// Publishes a domain event to `billing:events`.
    @discardableResult
    public func publish(_ event: Envelope) async throws -> String {
        try await append(event, to: names.events, keeping: retention.events)
    }

    /// XADD with the envelope JSON, trimming entries older than `keeping`.
    func append(_ envelope: Envelope, to stream: String, keeping: Duration) async throws -> String {
        let json = try MessageCoding.encode(envelope)
        let command = XADD(
            stream, fields: [(Self.envelopeField, RedisArgument(bytes: Array(json))), ("type", RedisArgument(envelope.type))],
            trim: .minID(Self.minID(before: wallClock.now(), keeping: keeping)))
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
