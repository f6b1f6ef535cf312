/// Options for `find`: sort, paging, projection and how many documents each round trip fetches.
public struct FindOptions: Sendable {
    public var sort: BSONDocument?
    public var limit: Int?
    public var skip: Int?
    public var projection: BSONDocument?
    public var batchSize: Int?

    public init(
        sort: BSONDocument? = nil, limit: Int? = nil, skip: Int? = nil, projection: BSONDocument? = nil,
        batchSize: Int? = nil
    ) {
        self.sort = sort
        self.limit = limit
        self.skip = skip
        self.projection = projection
        self.batchSize = batchSize
    }

    var document: BSONDocument {
        var options = BSONDocument()
        if let sort { options["sort"] = .document(sort) }
        if let limit { options["limit"] = .int64(Int64(limit)) }
        if let skip { options["skip"] = .int64(Int64(skip)) }
        if let projection { options["projection"] = .document(projection) }
        if let batchSize { options["batchSize"] = .int(batchSize) }
        return options
    }
}

/// What an update did. `matchedCount == 0` on a conditional update (e.g. a `version` filter) means
/// the condition did not hold and nothing was written.
public struct UpdateResult: Sendable, Equatable {
    public var matchedCount: Int
    public var modifiedCount: Int
    /// The `_id` of the document an upsert inserted, nil when it updated an existing one.
    public var upsertedID: BSONValue?

    public init(matchedCount: Int, modifiedCount: Int, upsertedID: BSONValue?) {
        self.matchedCount = matchedCount
        self.modifiedCount = modifiedCount
        self.upsertedID = upsertedID
    }

    /// True when the filter matched a document (or the upsert inserted one).
    public var matched: Bool { matchedCount > 0 || upsertedID != nil }
}

/// One index for `createIndexes`: keys plus unique, TTL (`expireAfterSeconds`) and partial options.
public struct IndexModel: Sendable, Equatable {
    /// e.g. `["tenant_id": 1, "email": 1]`; order matters.
    public var keys: BSONDocument
    /// Defaults to MongoDB's own naming, `tenant_id_1_email_1`.
    public var name: String
    public var unique: Bool
    /// TTL: documents expire this many seconds after the date in the (single) key field.
    public var expireAfterSeconds: Int?
    /// Index only documents matching this filter, e.g. `["status": ["$ne": "deleted"]]`.
    public var partialFilterExpression: BSONDocument?
    public var sparse: Bool

    public init(
        keys: BSONDocument, name: String? = nil, unique: Bool = false, expireAfterSeconds: Int? = nil,
        partialFilterExpression: BSONDocument? = nil, sparse: Bool = false
    ) {
        self.keys = keys
        self.name = name ?? IndexModel.defaultName(for: keys)
        self.unique = unique
        self.expireAfterSeconds = expireAfterSeconds
        self.partialFilterExpression = partialFilterExpression
        self.sparse = sparse
    }

    static func defaultName(for keys: BSONDocument) -> String {
        keys.fields.map { element -> String in
            let direction: String
            switch element.value {
            case .string(let s): direction = s
            case .double(let d): direction = Int(exactly: d).map(String.init) ?? String(d)
            default: direction = element.value.intValue.map(String.init) ?? "1"
            }
            return "\(element.key)_\(direction)"
        }.joined(separator: "_")
    }

    /// The entry of the `createIndexes` command's `indexes` array.
    var document: BSONDocument {
        var spec: BSONDocument = ["key": .document(keys), "name": .string(name)]
        if unique { spec["unique"] = true }
        if sparse { spec["sparse"] = true }
        if let expireAfterSeconds { spec["expireAfterSeconds"] = .int(expireAfterSeconds) }
        if let partialFilterExpression { spec["partialFilterExpression"] = .document(partialFilterExpression) }
        return spec
    }
}

/// How strictly a collection validator applies (`validationLevel`).
public enum ValidationLevel: String, Sendable {
    case off, strict, moderate
}

/// What a validator does with an invalid document (`validationAction`).
public enum ValidationAction: String, Sendable {
    case error, warn
}
