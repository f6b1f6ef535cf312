import Contracts
import MessageBus
import Mongo

/// Cursor pagination (DESIGN §5): `limit` 1–100 (default 10) and `starting_after` (an object ID);
/// newest first, by `_id`, which ``ResourceID`` makes time-ordered. Each page is one query of
/// `limit + 1` documents on `(tenant_id, …, _id)`, so it stays selective however long the list is.
public struct PageRequest: Sendable, Hashable {
    public static let defaultLimit = 10
    public static let maxLimit = 100

    public var limit: Int
    public var startingAfter: String?

    public init(limit: Int = PageRequest.defaultLimit, startingAfter: String? = nil) {
        self.limit = limit
        self.startingAfter = startingAfter
    }

    /// The page a list command's typed query asked for.
    public init(_ query: PageQuery) {
        limit = query.limit?.value ?? Self.defaultLimit
        startingAfter = query.startingAfter?.value
    }

    /// `filter` with the cursor bound added (`_id < starting_after`: older than the last one seen).
    public func filter(_ filter: BSONDocument) -> BSONDocument {
        guard let startingAfter else { return filter }
        var bounded = filter
        bounded["_id"] = ["$lt": .string(startingAfter)]
        return bounded
    }

    /// Newest first, one more than the page so `has_more` needs no count.
    public var options: FindOptions { FindOptions(sort: ["_id": -1], limit: limit + 1) }

    /// The page for what a query with ``filter(_:)`` and ``options`` returned.
    public func page<T, Item: Codable & Sendable>(_ found: [T], render: (T) -> Item) -> Page<Item> {
        Page(found.prefix(limit).map(render), hasMore: found.count > limit)
    }

    /// Runs the page query in a transaction or on a connection.
    public func find<T: Codable>(_ collection: MongoSyncCollection<T>, _ filter: BSONDocument) throws -> [T] {
        try collection.find(self.filter(filter), options: options)
    }

    /// Runs the page query from a read handler.
    public func find<T: Codable & Sendable>(_ collection: MongoCollection<T>, _ filter: BSONDocument) async throws -> [T] {
        try await collection.find(self.filter(filter), options: options)
    }
}
