import Foundation

/// An entry a service gave up on, as kept in `billing:dlq:<service>`.
public struct DeadLetter: Sendable, Hashable {
    /// ID of the entry in the dead-letter stream.
    public var id: String
    /// ID the entry had in the command stream.
    public var originalID: String
    /// The raw envelope text, exactly as it was (it may not even be JSON).
    public var envelope: String
    public var error: String
    public var deliveries: Int
    public var deadLetteredAt: Date?

    package static func fields(originalID: String, envelope: String, error: String, deliveries: Int, at: Date)
        -> [(String, String)]
    {
        [
            ("original_id", originalID), (CommandBus.envelopeField, envelope), ("error", error),
            ("deliveries", String(deliveries)), ("dead_lettered_at", MessageCoding.formatTimestamp(at)),
        ]
    }

    init(id: String, fields: [String: String]) {
        self.id = id
        self.originalID = fields["original_id"] ?? ""
        self.envelope = fields[CommandBus.envelopeField] ?? ""
        self.error = fields["error"] ?? ""
        self.deliveries = Int(fields["deliveries"] ?? "") ?? 0
        self.deadLetteredAt = fields["dead_lettered_at"].flatMap(MessageCoding.parseTimestamp)
    }
}
