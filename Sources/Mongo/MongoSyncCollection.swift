/// Synchronous collection operations on the connection (and, in a transaction, the session) of a
/// ``MongoConnection`` or ``MongoTransaction``. Valid only inside that closure, on its thread.
public struct MongoSyncCollection<T: Codable> {
    public let databaseName: String
    public let name: String
    let connection: MongocConnection

    init(connection: MongocConnection, databaseName: String, name: String) {
        self.connection = connection
        self.databaseName = databaseName
        self.name = name
    }

    // MARK: Writes

    /// Inserts one document; returns its `_id` (an ObjectId is generated when `T` has none).
    @discardableResult
    public func insertOne(_ value: T) throws -> BSONValue {
        let (document, id) = try Self.withID(encode(value))
        try connection.insertOne(database: databaseName, collection: name, document: document)
        return id
    }

    /// Unordered bulk insert. Returns how many were inserted; if some failed, throws a ``MongoError``
    /// whose `writeErrors` list the failed indices and whose `insertedCount` says how many landed.
    @discardableResult
    public func insertMany(_ values: [T]) throws -> Int {
        let documents = try values.map { try Self.withID(encode($0)).document }
        return try connection.insertMany(database: databaseName, collection: name, documents: documents)
    }

    /// `update` uses operators (`["$set": …]`); a filter such as `["_id": id, "version": 3]` makes it
    /// conditional, and the result's `matchedCount` says whether the condition held.
    @discardableResult
    public func updateOne(_ filter: BSONDocument, update: BSONDocument, upsert: Bool = false) throws -> UpdateResult {
        try connection.update(
            database: databaseName, collection: name, filter: filter, update: update, many: false, upsert: upsert)
    }

    /// Inserts `value` unless a document with its `_id` exists (an upsert of `$setOnInsert`): one
    /// command where a find and an insert took two, and no duplicate-key error to abort a
    /// transaction. Whether it was inserted.
    public func insertIfAbsent(_ value: T) throws -> Bool {
        let (document, id) = try Self.withID(encode(value))
        let result = try updateOne(["_id": id], update: ["$setOnInsert": .document(document)], upsert: true)
        return result.upsertedID != nil
    }

    @discardableResult
    public func updateMany(_ filter: BSONDocument, update: BSONDocument, upsert: Bool = false) throws -> UpdateResult {
        try connection.update(
            database: databaseName, collection: name, filter: filter, update: update, many: true, upsert: upsert)
    }

    /// Replaces the whole document matched by `filter` with `replacement`.
    @discardableResult
    public func replaceOne(_ filter: BSONDocument, replacement: T, upsert: Bool = false) throws -> UpdateResult {
        try connection.replaceOne(
            database: databaseName, collection: name, filter: filter, replacement: encode(replacement), upsert: upsert)
    }

    /// Returns the number deleted (0 or 1).
    @discardableResult
    public func deleteOne(_ filter: BSONDocument) throws -> Int {
        try connection.delete(database: databaseName, collection: name, filter: filter, many: false)
    }

    @discardableResult
    public func deleteMany(_ filter: BSONDocument) throws -> Int {
        try connection.delete(database: databaseName, collection: name, filter: filter, many: true)
    }

    /// Atomically updates the first match (by `sort`) and returns it as it is after the update when
    /// `returnNew` (before it otherwise); with `upsert` inserts when nothing matches. nil: no match.
    public func findOneAndUpdate(
        _ filter: BSONDocument, update: BSONDocument, sort: BSONDocument? = nil, returnNew: Bool = true,
        upsert: Bool = false
    ) throws -> T? {
        try connection.findOneAndUpdate(
            database: databaseName, collection: name, filter: filter, update: update, sort: sort, projection: nil,
            returnNew: returnNew, upsert: upsert
        ).map(decode)
    }

    // MARK: Reads

    public func find(_ filter: BSONDocument = [:], options: FindOptions = FindOptions()) throws -> [T] {
        try findDocuments(filter, options: options).map(decode)
    }

    /// Raw documents, for projections that do not fit `T`.
    public func findDocuments(_ filter: BSONDocument = [:], options: FindOptions = FindOptions()) throws
        -> [BSONDocument]
    {
        try connection.find(database: databaseName, collection: name, filter: filter, options: options.document)
    }

    public func findOne(_ filter: BSONDocument, sort: BSONDocument? = nil) throws -> T? {
        try find(filter, options: FindOptions(sort: sort, limit: 1)).first
    }

    /// `countDocuments`: an exact count of the documents matching `filter`.
    public func count(_ filter: BSONDocument = [:], limit: Int? = nil) throws -> Int {
        var options = BSONDocument()
        if let limit { options["limit"] = .int64(Int64(limit)) }
        return try connection.count(database: databaseName, collection: name, filter: filter, options: options)
    }

    public func aggregate(_ pipeline: [BSONDocument]) throws -> [BSONDocument] {
        try connection.aggregate(database: databaseName, collection: name, pipeline: pipeline, options: [:])
    }

    // MARK: Indexes

    /// Creates the indexes (a no-op for ones that already exist with the same spec); returns their names.
    @discardableResult
    public func createIndexes(_ models: [IndexModel]) throws -> [String] {
        guard !models.isEmpty else { return [] }
        let command: BSONDocument = [
            "createIndexes": .string(name),
            "indexes": .array(models.map { .document($0.document) }),
        ]
        _ = try connection.runCommand(database: databaseName, command: command)
        return models.map(\.name)
    }

    /// The index specs as the server lists them (`key`, `name`, `unique`, `expireAfterSeconds`, …).
    public func listIndexes() throws -> [BSONDocument] {
        try connection.listIndexes(database: databaseName, collection: name)
    }

    // MARK: Coding

    private func encode(_ value: T) throws -> BSONDocument {
        do {
            return try BSONEncoder().encode(value)
        } catch {
            throw MongoError.encoding(error, type: T.self)
        }
    }

    private func decode(_ document: BSONDocument) throws -> T {
        do {
            return try BSONDecoder().decode(T.self, from: document)
        } catch let error as DecodingError {
            throw MongoError.decoding(error, type: T.self)
        }
    }

    /// MongoDB puts `_id` first; when the value has none we make one so the caller learns it.
    private static func withID(_ document: BSONDocument) -> (document: BSONDocument, id: BSONValue) {
        if let id = document["_id"] { return (document, id) }
        let id = BSONValue.objectID(BSONObjectID())
        var withID: BSONDocument = ["_id": id]
        for element in document.fields { withID.append(key: element.key, value: element.value) }
        return (withID, id)
    }
}

/// A pooled connection held by one pool thread for the length of a closure: synchronous,
/// non-transactional operations, useful for batching several calls into one hop.
public struct MongoConnection {
    let connection: MongocConnection
    /// The database `collection(_:as:)` uses.
    public let databaseName: String

    init(connection: MongocConnection, databaseName: String) {
        self.connection = connection
        self.databaseName = databaseName
    }

    public func collection<T: Codable>(_ name: String, as type: T.Type, database: String? = nil) -> MongoSyncCollection<T> {
        MongoSyncCollection(connection: connection, databaseName: database ?? databaseName, name: name)
    }

    public func runCommand(_ command: BSONDocument, database: String? = nil) throws -> BSONDocument {
        try connection.runCommand(database: database ?? databaseName, command: command)
    }

    /// In a transaction, its server session's ID (`{id: <UUID>}`), as ``MongoClient/killSessions(_:)``
    /// takes it; nil outside one.
    public func sessionID() throws -> BSONDocument? {
        try connection.sessionID()
    }
}

/// The handle a `withTransaction` body gets: the same synchronous operations as a
/// ``MongoConnection``, whose connection is then bound to the transaction's session, so reads and
/// writes across collections commit or abort together.
public typealias MongoTransaction = MongoConnection
