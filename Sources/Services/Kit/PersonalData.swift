import Foundation
import MessageBus
import WorkerRuntime
import Mongo

/// Where the runtime keeps copies of a person's data, and how erasure finds them.
///
/// The ledger (`processed_messages`) stores every write command's reply for 8 days so a redelivery
/// answers the same; a reply that renders a customer holds its name and email. A handler whose reply
/// carries personal data calls ``note(_:subject:)``; erasure then calls ``redactReplies(_:subject:tenant:redact:)``
/// in its own transaction to rewrite those stored replies. The references themselves hold only IDs.
public enum PersonalData {
    /// `{_id: <ledger id>, tenant_id, subject, command_id, expire_at}`; TTL on `expire_at`.
    public static let references = "personal_data_refs"

    /// A little longer than the ledger keeps its entries (8 days), so no entry outlives its reference.
    public static let retention: TimeInterval = MessagingStore.ledgerRetention + 86_400

    /// Notes that this command's stored reply will carry personal data of `subject` (a customer or
    /// user ID). Written in the handler's transaction, so it exists exactly when the ledger entry does.
    public static func note(_ context: CommandContext, subject: String) throws {
        // The ledger's own ID for this command: `<group>:<message id>` (CommandProcessor.ledgerID).
        let ledgerID = "\(context.service):\(context.envelope.id)"
        // Retention follows wall time, as the ledger's does: a test clock may stand anywhere.
        let expireAt = Date().addingTimeInterval(retention)
        let reference: BSONDocument = [
            "_id": .string(ledgerID), "tenant_id": .string(context.envelope.principal.tenant),
            "subject": .string(subject), "command_id": .string(context.envelope.id),
            "expire_at": .datetime(millisecondsOf: expireAt),
        ]
        // A rerun of the same transaction finds its own reference gone with the rollback; a
        // second note for the same command (two notes in one handler) is harmless.
        _ = try context.transaction.collection(references, as: BSONDocument.self).updateOne(
            ["_id": .string(ledgerID)], update: ["$setOnInsert": .document(reference)], upsert: true)
    }

    /// Rewrites, in `transaction`, the stored reply of every noted command of `subject` with
    /// `redact`, and drops the references. Returns the command IDs whose replies were rewritten
    /// (their operation state in Redis, `<prefix>:op:<id>`, holds the same reply for 24 h).
    @discardableResult
    public static func redactReplies(
        _ transaction: MongoTransaction, subject: String, tenant: String, redact: (Reply) -> Reply
    ) throws -> [String] {
        let refs = transaction.collection(references, as: BSONDocument.self)
        let noted = try refs.find(["subject": .string(subject), "tenant_id": .string(tenant)])
        let ledger = transaction.collection(MessagingStore.processed, as: BSONDocument.self)
        var commands: [String] = []
        let wallNow = Date()
        for reference in noted {
            guard let ledgerID = reference["_id"]?.stringValue, let commandID = reference["command_id"]?.stringValue
            else { continue }
            commands.append(commandID)
            guard let entry = try ledger.findOne(["_id": .string(ledgerID)]) else {
                // A young reference without its ledger entry: that command runs in this same batch
                // transaction, and its entry (with its reply) is inserted only after every handler
                // ran. Fail the batch: the processor reruns each command in its own transaction,
                // and then the entry is there to redact. (An old one's entry simply expired.)
                let notedAt = reference["expire_at"]?.dateValue?.addingTimeInterval(-retention) ?? .distantPast
                if wallNow.timeIntervalSince(notedAt) < MessagingStore.ledgerRetention - 3_600 {
                    throw SameBatch(command: commandID)
                }
                continue
            }
            let original =
                entry["reply"]?.stringValue.flatMap { try? MessageCoding.decode(Reply.self, from: $0) }
                ?? Reply(id: commandID, correlationID: commandID, status: .succeeded, httpStatus: 200, completedAt: wallNow)
            let redacted = String(decoding: try MessageCoding.encode(redact(original)), as: UTF8.self)
            try ledger.updateOne(["_id": .string(ledgerID)], update: ["$set": ["reply": .string(redacted)]])
        }
        try refs.deleteMany(["subject": .string(subject), "tenant_id": .string(tenant)])
        return commands.filter { !$0.isEmpty }
    }

    /// Erasure met a command of the same subject in its own batch transaction (see ``redactReplies``).
    public struct SameBatch: Error, CustomStringConvertible {
        public var command: String
        public var description: String {
            "command \(command) of the same data subject shares this batch; rerun one command per transaction"
        }
    }
}
