import Foundation
import Logging
import Mongo

/// Applies collection definitions (`schemas/collections/*.json`): creates each collection with its
/// `$jsonSchema` validator (or updates the validator), then its indexes. Idempotent.
///
/// A definition file:
/// ```json
/// { "collection": "customers",
///   "validator": { "$jsonSchema": { … } },
///   "indexes": [ { "name": "tenant_email", "keys": { "tenant_id": 1, "email": 1 }, "unique": true } ] }
/// ```
public struct CollectionMigrator: Sendable {
    public let client: MongoClient
    public let database: String

    public init(client: MongoClient, database: String) {
        self.client = client
        self.database = database
    }

    /// A definition file that cannot be applied, named with what is wrong.
    public struct InvalidDefinition: Error, CustomStringConvertible {
        public var file: String
        public var reason: String
        public var description: String { "\(file): \(reason)" }
    }

    /// Applies every `*.json` in `folder` (sorted by name); returns the collection names.
    public func apply(folder: String, logger: Logger) async throws -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        var applied: [String] = []
        for file in files.filter({ $0.hasSuffix(".json") }).sorted() {
            let path = (folder as NSString).appendingPathComponent(file)
            let text = try String(contentsOfFile: path, encoding: .utf8)
            applied.append(try await apply(json: text, file: file))
            logger.debug("collection applied", metadata: ["file": "\(file)"])
        }
        return applied
    }

    /// Applies one definition given as JSON text; returns the collection name.
    public func apply(json: String, file: String = "definition") async throws -> String {
        let definition: BSONDocument
        do {
            definition = try BSONDocument(json: json)
        } catch {
            throw InvalidDefinition(file: file, reason: "not valid JSON: \(error)")
        }
        guard let name = definition["collection"]?.stringValue, !name.isEmpty else {
            throw InvalidDefinition(file: file, reason: "missing \"collection\" (the collection's name)")
        }
        let db = client.database(database)
        try await db.createCollection(name, validator: definition["validator"]?.documentValue)
        var models: [IndexModel] = []
        for (position, index) in (definition["indexes"]?.arrayValue ?? []).enumerated() {
            guard let spec = index.documentValue, let keys = spec["keys"]?.documentValue, !keys.isEmpty else {
                throw InvalidDefinition(file: file, reason: "indexes[\(position)] needs a non-empty \"keys\" object")
            }
            models.append(
                IndexModel(
                    keys: keys, name: spec["name"]?.stringValue, unique: spec["unique"]?.boolValue ?? false,
                    expireAfterSeconds: spec["expireAfterSeconds"]?.intValue,
                    partialFilterExpression: spec["partialFilterExpression"]?.documentValue))
        }
        if !models.isEmpty {
            _ = try await db.collection(name, as: BSONDocument.self).createIndexes(models)
        }
        return name
    }
}
