import Foundation
import Mongo

/// Conditional writes on a document's `version` (DESIGN §3: concurrent commands never lose an update).
public enum Versioned {
    /// Sets `fields` (and `version + 1`, `updated_at`) on the document matched by `filter` at
    /// `version`, unsets `unset`. When the version no longer matches, another transaction changed the
    /// document first: the error carries MongoDB's transient label, so the handler's whole
    /// transaction is rerun on fresh data rather than overwriting it.
    public static func update<T>(
        _ collection: MongoSyncCollection<T>, _ filter: BSONDocument, version: Int, set fields: BSONDocument,
        unset: [String] = [], at now: Date
    ) throws {
        var conditional = filter
        conditional["version"] = .int(version)
        var set = fields
        set["version"] = .int(version + 1)
        set["updated_at"] = .datetime(millisecondsOf: now)
        var update: BSONDocument = ["$set": .document(set)]
        if !unset.isEmpty { update["$unset"] = .document(BSONDocument(unset.map { ($0, BSONValue.string("")) })) }
        let result = try collection.updateOne(conditional, update: update)
        guard result.matchedCount == 1 else { throw conflict(collection.name) }
    }

    /// The error for a lost race on `version`: retried as a transient transaction error.
    public static func conflict(_ collection: String) -> MongoError {
        MongoError(
            .writeConflict, "a document in \(collection) changed since it was read; retrying",
            labels: [MongoError.transientTransactionLabel])
    }
}
