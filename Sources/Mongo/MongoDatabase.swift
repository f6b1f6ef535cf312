/// A database of a ``MongoClient``; cheap to create, holds no connection.
public struct MongoDatabase: Sendable {
    public let client: MongoClient
    public let name: String

    public init(client: MongoClient, name: String) {
        self.client = client
        self.name = name
    }

    public func collection<T: Codable & Sendable>(_ name: String, as type: T.Type) -> MongoCollection<T> {
        MongoCollection(database: self, name: name)
    }

    /// Runs a database command (`{ping: 1}`, `{collMod: …}`) and returns the server's reply.
    @discardableResult
    public func runCommand(_ command: BSONDocument) async throws -> BSONDocument {
        let name = name
        return try await client.run { try $0.runCommand(database: name, command: command) }
    }

    /// Creates the collection, or, when it already exists, applies the validator to it (`collMod`).
    public func createCollection(
        _ collectionName: String, validator: BSONDocument? = nil, validationLevel: ValidationLevel? = nil,
        validationAction: ValidationAction? = nil
    ) async throws {
        var options = BSONDocument()
        if let validator { options["validator"] = .document(validator) }
        if let validationLevel { options["validationLevel"] = .string(validationLevel.rawValue) }
        if let validationAction { options["validationAction"] = .string(validationAction.rawValue) }
        let create = (["create": .string(collectionName)] as BSONDocument).merging(options)
        let modify = (["collMod": .string(collectionName)] as BSONDocument).merging(options)
        let name = name
        let hasOptions = !options.isEmpty
        try await client.run { connection in
            do {
                _ = try connection.runCommand(database: name, command: create)
            } catch let error as MongoError where error.serverCode == 48 {  // NamespaceExists
                if hasOptions { _ = try connection.runCommand(database: name, command: modify) }
            }
        }
    }

    /// Drops the whole database.
    public func drop() async throws {
        try await runCommand(["dropDatabase": 1])
    }

    public func listCollectionNames() async throws -> [String] {
        let name = name
        return try await client.run { try $0.listCollectionNames(database: name) }
    }

    /// ``MongoClient/withConnection(database:_:)`` bound to this database.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (MongoConnection) throws -> T) async throws -> T {
        try await client.withConnection(database: name, body)
    }

    /// ``MongoClient/withTransaction(database:_:)`` bound to this database.
    public func withTransaction<T: Sendable>(_ body: @escaping @Sendable (MongoTransaction) throws -> T) async throws -> T {
        try await client.withTransaction(database: name, body)
    }
}
