/// A typed collection. Every method hops to the client's thread pool for its blocking libmongoc call.
public struct MongoCollection<T: Codable & Sendable>: Sendable {
    public let database: MongoDatabase
    public let name: String

    public init(database: MongoDatabase, name: String) {
        self.database = database
        self.name = name
    }

    private func run<R: Sendable>(_ body: @escaping @Sendable (MongoSyncCollection<T>) throws -> R) async throws -> R {
        let databaseName = database.name
        let name = name
        return try await database.client.run { connection in
            try body(MongoSyncCollection<T>(connection: connection, databaseName: databaseName, name: name))
        }
    }

    // MARK: Writes

    /// Inserts one document; returns its `_id` (an ObjectId is generated when `T` has none).
    @discardableResult
    public func insertOne(_ value: T) async throws -> BSONValue {
        try await run { try $0.insertOne(value) }
    }

    /// Unordered bulk insert; see ``MongoSyncCollection/insertMany(_:)`` for partial failures.
    @discardableResult
    public func insertMany(_ values: [T]) async throws -> Int {
        try await run { try $0.insertMany(values) }
    }

    @discardableResult
    public func updateOne(_ filter: BSONDocument, update: BSONDocument, upsert: Bool = false) async throws
        -> UpdateResult
    {
        try await run { try $0.updateOne(filter, update: update, upsert: upsert) }
    }

    @discardableResult
    public func updateMany(_ filter: BSONDocument, update: BSONDocument, upsert: Bool = false) async throws
        -> UpdateResult
    {
        try await run { try $0.updateMany(filter, update: update, upsert: upsert) }
    }

    @discardableResult
    public func replaceOne(_ filter: BSONDocument, replacement: T, upsert: Bool = false) async throws -> UpdateResult {
        try await run { try $0.replaceOne(filter, replacement: replacement, upsert: upsert) }
    }

    @discardableResult
    public func deleteOne(_ filter: BSONDocument) async throws -> Int {
        try await run { try $0.deleteOne(filter) }
    }

    @discardableResult
    public func deleteMany(_ filter: BSONDocument) async throws -> Int {
        try await run { try $0.deleteMany(filter) }
    }

    /// See ``MongoSyncCollection/findOneAndUpdate(_:update:sort:returnNew:upsert:)``.
    public func findOneAndUpdate(
        _ filter: BSONDocument, update: BSONDocument, sort: BSONDocument? = nil, returnNew: Bool = true,
        upsert: Bool = false
    ) async throws -> T? {
        try await run { try $0.findOneAndUpdate(filter, update: update, sort: sort, returnNew: returnNew, upsert: upsert) }
    }

    // MARK: Reads

    /// All matching documents; the cursor is drained on the pool thread.
    public func find(_ filter: BSONDocument = [:], options: FindOptions = FindOptions()) async throws -> [T] {
        try await run { try $0.find(filter, options: options) }
    }

    /// Raw documents, for projections that do not fit `T`.
    public func findDocuments(_ filter: BSONDocument = [:], options: FindOptions = FindOptions()) async throws
        -> [BSONDocument]
    {
        try await run { try $0.findDocuments(filter, options: options) }
    }

    public func findOne(_ filter: BSONDocument, sort: BSONDocument? = nil) async throws -> T? {
        try await run { try $0.findOne(filter, sort: sort) }
    }

    public func count(_ filter: BSONDocument = [:], limit: Int? = nil) async throws -> Int {
        try await run { try $0.count(filter, limit: limit) }
    }

    public func aggregate(_ pipeline: [BSONDocument]) async throws -> [BSONDocument] {
        try await run { try $0.aggregate(pipeline) }
    }

    // MARK: Indexes

    @discardableResult
    public func createIndexes(_ models: [IndexModel]) async throws -> [String] {
        try await run { try $0.createIndexes(models) }
    }

    public func listIndexes() async throws -> [BSONDocument] {
        try await run { try $0.listIndexes() }
    }
}
