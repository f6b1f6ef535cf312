import CMongoc
import Foundation

/// One popped `mongoc_client_t` (and optionally a session on it), used by one pool thread at a time.
///
/// It owns neither handle: the pool pushes the client back and `withSession` destroys the session,
/// each in one place. After `close()` every operation throws instead of touching a pushed-back client.
final class MongocConnection {
    private let client: OpaquePointer
    private let session: OpaquePointer?
    private var isOpen = true

    init(client: OpaquePointer, session: OpaquePointer? = nil) {
        self.client = client
        self.session = session
    }

    func close() { isOpen = false }

    var inTransaction: Bool { session.map { mongoc_client_session_in_transaction($0) } ?? false }

    private func checkOpen() throws {
        guard isOpen else {
            throw MongoError(.invalidArgument, "a MongoConnection/MongoTransaction was used after its closure returned")
        }
    }

    // MARK: Plumbing

    /// Options as a `bson_t`, with this connection's session id appended when it has one.
    private func withOptions<R>(_ base: BSONDocument, _ body: (OpaquePointer) throws -> R) throws -> R {
        let options = try MongocBSON(base)
        if let session {
            var error = bson_error_t()
            guard options.withUnsafeHandle({ mongoc_client_session_append(session, $0, &error) }) else {
                throw MongoError.from(error)
            }
        }
        return try options.withUnsafeHandle(body)
    }

    private func withCollection<R>(_ database: String, _ name: String, _ body: (OpaquePointer) throws -> R) throws -> R {
        try checkOpen()
        guard let collection = mongoc_client_get_collection(client, database, name) else {
            throw MongoError(.invalidArgument, "invalid collection name \"\(database).\(name)\"")
        }
        defer { mongoc_collection_destroy(collection) }
        return try body(collection)
    }

    /// Runs a libmongoc call that fills `reply` and `error`; throws the mapped error when it fails.
    private func call(_ body: (OpaquePointer, UnsafeMutablePointer<bson_error_t>) throws -> Bool) throws
        -> BSONDocument
    {
        var error = bson_error_t()
        let (ok, reply) = try withReplyStorage { reply in try body(reply, &error) }
        guard ok else { throw MongoError.from(error, reply: reply) }
        return reply
    }

    /// Reads every document of a cursor on this thread, then destroys the cursor (its one owner).
    private func drain(_ cursor: OpaquePointer?) throws -> [BSONDocument] {
        guard let cursor else { throw MongoError.client("libmongoc returned no cursor") }
        defer { mongoc_cursor_destroy(cursor) }
        var documents: [BSONDocument] = []
        var current: OpaquePointer?
        while mongoc_cursor_next(cursor, &current) {
            if let current { documents.append(try BSONReader.document(from: current)) }
        }
        var error = bson_error_t()
        var reply: OpaquePointer?
        if mongoc_cursor_error_document(cursor, &error, &reply) {
            throw MongoError.from(error, reply: reply.flatMap { try? BSONReader.document(from: $0) })
        }
        return documents
    }

    // MARK: Commands

    func runCommand(database: String, command: BSONDocument) throws -> BSONDocument {
        try checkOpen()
        return try withBSON(command) { command in
            try withOptions([:]) { options in
                try call { reply, error in
                    mongoc_client_command_with_opts(client, database, command, nil, options, reply, error)
                }
            }
        }
    }

    func listCollectionNames(database: String) throws -> [String] {
        try checkOpen()
        guard let db = mongoc_client_get_database(client, database) else {
            throw MongoError(.invalidArgument, "invalid database name \"\(database)\"")
        }
        defer { mongoc_database_destroy(db) }
        return try withOptions([:]) { options in
            var error = bson_error_t()
            guard let names = mongoc_database_get_collection_names_with_opts(db, options, &error) else {
                throw MongoError.from(error)
            }
            defer { bson_strfreev(names) }
            var result: [String] = []
            var index = 0
            while let name = names[index] {
                result.append(String(cString: name))
                index += 1
            }
            return result
        }
    }

    // MARK: Writes

    func insertOne(database: String, collection: String, document: BSONDocument) throws {
        try withCollection(database, collection) { coll in
            try withBSON(document) { doc in
                try withOptions([:]) { options in
                    _ = try call { reply, error in mongoc_collection_insert_one(coll, doc, options, reply, error) }
                }
            }
        }
    }

    /// Unordered bulk insert: the server writes every document it can and reports the rest.
    func insertMany(database: String, collection: String, documents: [BSONDocument]) throws -> Int {
        guard !documents.isEmpty else { return 0 }
        return try withCollection(database, collection) { coll in
            let bulk: OpaquePointer = try withOptions(["ordered": false]) { options in
                guard let bulk = mongoc_collection_create_bulk_operation_with_opts(coll, options) else {
                    throw MongoError.client("cannot create a bulk operation")
                }
                return bulk
            }
            defer { mongoc_bulk_operation_destroy(bulk) }
            for (index, document) in documents.enumerated() {
                var error = bson_error_t()
                let queued = try withBSON(document) { mongoc_bulk_operation_insert_with_opts(bulk, $0, nil, &error) }
                guard queued else {
                    var mapped = MongoError.from(error)
                    mapped.message = "document \(index): \(mapped.message)"
                    throw mapped
                }
            }
            var error = bson_error_t()
            let (serverID, reply) = try withReplyStorage { reply in mongoc_bulk_operation_execute(bulk, reply, &error) }
            let inserted = reply["nInserted"]?.intValue ?? 0
            guard serverID != 0 else {
                var mapped = MongoError.from(error, reply: reply)
                mapped.insertedCount = inserted
                if !mapped.writeErrors.isEmpty {
                    let indices = mapped.writeErrors.map { String($0.index) }.joined(separator: ", ")
                    mapped.message =
                        "\(inserted) of \(documents.count) documents inserted; failed at indices [\(indices)]: "
                        + mapped.message
                }
                throw mapped
            }
            return inserted
        }
    }

    func update(
        database: String, collection: String, filter: BSONDocument, update: BSONDocument, many: Bool, upsert: Bool
    ) throws -> UpdateResult {
        try withCollection(database, collection) { coll in
            try withBSON(filter) { filter in
                try withBSON(update) { update in
                    try withOptions(["upsert": .bool(upsert)]) { options in
                        UpdateResult(
                            reply: try call { reply, error in
                                many
                                    ? mongoc_collection_update_many(coll, filter, update, options, reply, error)
                                    : mongoc_collection_update_one(coll, filter, update, options, reply, error)
                            })
                    }
                }
            }
        }
    }

    func replaceOne(
        database: String, collection: String, filter: BSONDocument, replacement: BSONDocument, upsert: Bool
    ) throws -> UpdateResult {
        try withCollection(database, collection) { coll in
            try withBSON(filter) { filter in
                try withBSON(replacement) { replacement in
                    try withOptions(["upsert": .bool(upsert)]) { options in
                        UpdateResult(
                            reply: try call { reply, error in
                                mongoc_collection_replace_one(coll, filter, replacement, options, reply, error)
                            })
                    }
                }
            }
        }
    }

    func delete(database: String, collection: String, filter: BSONDocument, many: Bool) throws -> Int {
        try withCollection(database, collection) { coll in
            try withBSON(filter) { filter in
                try withOptions([:]) { options in
                    let reply = try call { reply, error in
                        many
                            ? mongoc_collection_delete_many(coll, filter, options, reply, error)
                            : mongoc_collection_delete_one(coll, filter, options, reply, error)
                    }
                    return reply["deletedCount"]?.intValue ?? 0
                }
            }
        }
    }

    /// findAndModify; returns the document before or after the update (nil when nothing matched).
    func findOneAndUpdate(
        database: String, collection: String, filter: BSONDocument, update: BSONDocument, sort: BSONDocument?,
        projection: BSONDocument?, returnNew: Bool, upsert: Bool
    ) throws -> BSONDocument? {
        try withCollection(database, collection) { coll in
            guard let opts = mongoc_find_and_modify_opts_new() else {
                throw MongoError.client("cannot allocate find-and-modify options")
            }
            defer { mongoc_find_and_modify_opts_destroy(opts) }
            guard try withBSON(update, { mongoc_find_and_modify_opts_set_update(opts, $0) }) else {
                throw MongoError(.invalidArgument, "findOneAndUpdate: invalid update document")
            }
            if let sort {
                _ = try withBSON(sort) { mongoc_find_and_modify_opts_set_sort(opts, $0) }
            }
            if let projection {
                _ = try withBSON(projection) { mongoc_find_and_modify_opts_set_fields(opts, $0) }
            }
            var flags = MONGOC_FIND_AND_MODIFY_NONE.rawValue
            if returnNew { flags |= MONGOC_FIND_AND_MODIFY_RETURN_NEW.rawValue }
            if upsert { flags |= MONGOC_FIND_AND_MODIFY_UPSERT.rawValue }
            _ = mongoc_find_and_modify_opts_set_flags(opts, mongoc_find_and_modify_flags_t(rawValue: flags))
            try withOptions([:]) { extra in
                guard mongoc_find_and_modify_opts_append(opts, extra) else {
                    throw MongoError.client("cannot attach the session to findAndModify")
                }
            }
            let reply = try withBSON(filter) { filter in
                try call { reply, error in mongoc_collection_find_and_modify_with_opts(coll, filter, opts, reply, error) }
            }
            return reply["value"]?.documentValue
        }
    }

    // MARK: Reads

    func find(database: String, collection: String, filter: BSONDocument, options: BSONDocument) throws -> [BSONDocument] {
        try withCollection(database, collection) { coll in
            try withBSON(filter) { filter in
                try withOptions(options) { options in
                    try drain(mongoc_collection_find_with_opts(coll, filter, options, nil))
                }
            }
        }
    }

    func count(database: String, collection: String, filter: BSONDocument, options: BSONDocument) throws -> Int {
        try withCollection(database, collection) { coll in
            try withBSON(filter) { filter in
                try withOptions(options) { options in
                    var error = bson_error_t()
                    let (count, reply) = try withReplyStorage { reply in
                        mongoc_collection_count_documents(coll, filter, options, nil, reply, &error)
                    }
                    guard count >= 0 else { throw MongoError.from(error, reply: reply) }
                    return Int(count)
                }
            }
        }
    }

    func aggregate(database: String, collection: String, pipeline: [BSONDocument], options: BSONDocument) throws
        -> [BSONDocument]
    {
        try withCollection(database, collection) { coll in
            try withBSON(["pipeline": .array(pipeline.map(BSONValue.document))]) { pipeline in
                try withOptions(options) { options in
                    try drain(mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, pipeline, options, nil))
                }
            }
        }
    }

    func listIndexes(database: String, collection: String) throws -> [BSONDocument] {
        try withCollection(database, collection) { coll in
            try withOptions([:]) { options in
                try drain(mongoc_collection_find_indexes_with_opts(coll, options))
            }
        }
    }

    // MARK: Sessions and transactions

    /// Starts a session on this client, runs `body` with a connection bound to it, destroys the session.
    func withSession<R>(_ body: (MongocConnection) throws -> R) throws -> R {
        try checkOpen()
        var error = bson_error_t()
        guard let session = mongoc_client_start_session(client, nil, &error) else {
            throw MongoError.from(error)
        }
        let bound = MongocConnection(client: client, session: session)
        defer {
            bound.close()
            mongoc_client_session_destroy(session)  // aborts a transaction still in progress
        }
        return try body(bound)
    }

    /// The server session's ID (`{id: <UUID>}`) of the bound session; nil without one.
    func sessionID() throws -> BSONDocument? {
        try checkOpen()
        guard let session, let lsid = mongoc_client_session_get_lsid(session) else { return nil }
        return try BSONReader.document(from: lsid)
    }

    func startTransaction() throws {
        try checkOpen()
        guard let session else { throw MongoError.client("startTransaction needs a session") }
        var error = bson_error_t()
        guard mongoc_client_session_start_transaction(session, nil, &error) else { throw MongoError.from(error) }
    }

    func commitTransaction() throws {
        try checkOpen()
        guard let session else { throw MongoError.client("commitTransaction needs a session") }
        _ = try call { reply, error in mongoc_client_session_commit_transaction(session, reply, error) }
    }

    /// Best effort: the server may already have aborted it (that is why we are aborting).
    func abortTransaction() {
        guard isOpen, let session, mongoc_client_session_in_transaction(session) else { return }
        var error = bson_error_t()
        _ = mongoc_client_session_abort_transaction(session, &error)
    }
}

extension UpdateResult {
    init(reply: BSONDocument) {
        self.init(
            matchedCount: reply["matchedCount"]?.intValue ?? 0,
            modifiedCount: reply["modifiedCount"]?.intValue ?? 0,
            upsertedID: reply["upsertedId"])
    }
}
