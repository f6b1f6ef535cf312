import MessageBus
import Foundation
import Mongo

/// The MongoDB collections the messaging runtime owns, and their indexes.
public enum MessagingStore {
    /// Ledger of processed messages (`<group>:<message id>`) with their stored replies.
    public static let processed = "processed_messages"
    /// Domain events written in the handler's transaction, waiting for the relay.
    public static let outbox = "outbox"

    /// How long the ledger remembers a message: longer than streams keep entries, so a replay of
    /// anything still in a stream finds it.
    public static let ledgerRetention: TimeInterval = 8 * 86_400
    // Validators and indexes: schemas/collections/processed_messages.json and outbox.json (`billing migrate`).
}

/// One ledger entry: this group processed this message and answered this.
struct ProcessedMessage: Codable, Sendable {
    var id: String
    var group: String
    var type: String
    var reply: String
    /// The whole reply, sealed (``ReplySealer``), while a reply with secrets is not yet published.
    var sealedReply: String?
    var processedAt: Date
    var expireAt: Date
}

/// One event waiting in the outbox.
struct OutboxEntry: Codable, Sendable {
    var id: String
    var type: String
    var envelope: String
    /// The service whose command stream gets this entry; nil for a domain event (`billing:events`).
    var service: String?
    var createdAt: Date
}
