import CMongoc
import Synchronization

/// Owns the `mongoc_client_pool_t` (and nothing else C-side outlives a call).
///
/// `@unchecked Sendable`: libmongoc documents `mongoc_client_pool_pop`/`_push` as thread-safe; the one
/// call that is not, `mongoc_client_pool_destroy`, runs once, from `destroy()`, after every pool thread
/// has stopped, guarded by `destroyed`.
final class MongocClientPool: @unchecked Sendable {
    struct Settings: Sendable {
        var poolSize: Int
        var serverSelectionTimeoutMS: Int
        var connectTimeoutMS: Int
        var socketTimeoutMS: Int?
        var waitQueueTimeoutMS: Int
        var appName: String
    }

    private let pool: OpaquePointer
    private let destroyed = Mutex(false)
    /// The database named in the URL path (`mongodb://host/billing` → `billing`).
    let defaultDatabase: String?

    init(url: String, settings: Settings) throws {
        MongocLibrary.ensureInitialized()
        var error = bson_error_t()
        guard let uri = mongoc_uri_new_with_error(url, &error) else {
            let reason = MongoError.from(error).message
            throw MongoError(.invalidArgument, "invalid MongoDB URL: \(reason)")
        }
        defer { mongoc_uri_destroy(uri) }

        // The thread pool is sized with maxPoolSize, so this one always follows the parameter;
        // timeouts written in the URL win over the parameters.
        try Self.set(uri, MONGOC_URI_MAXPOOLSIZE, settings.poolSize, override: true)
        try Self.set(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, settings.serverSelectionTimeoutMS, override: false)
        try Self.set(uri, MONGOC_URI_CONNECTTIMEOUTMS, settings.connectTimeoutMS, override: false)
        try Self.set(uri, MONGOC_URI_WAITQUEUETIMEOUTMS, settings.waitQueueTimeoutMS, override: false)
        if let socketTimeout = settings.socketTimeoutMS {
            try Self.set(uri, MONGOC_URI_SOCKETTIMEOUTMS, socketTimeout, override: false)
        }
        if !mongoc_uri_has_option(uri, MONGOC_URI_APPNAME) {
            guard mongoc_uri_set_appname(uri, settings.appName) else {
                throw MongoError(.invalidArgument, "invalid appname \"\(settings.appName)\" (at most 128 bytes)")
            }
        }
        defaultDatabase = mongoc_uri_get_database(uri).map { String(cString: $0) }

        guard let pool = mongoc_client_pool_new_with_error(uri, &error) else {
            throw MongoError(.invalidArgument, "cannot create MongoDB client pool: \(MongoError.from(error).message)")
        }
        // Version 2 reports every server error in the SERVER domain with the server's own code.
        _ = mongoc_client_pool_set_error_api(pool, Int32(MONGOC_ERROR_API_VERSION_2))
        self.pool = pool
    }

    private static func set(_ uri: OpaquePointer, _ option: String, _ value: Int, override: Bool) throws {
        if !override && mongoc_uri_has_option(uri, option) { return }
        guard let value32 = Int32(exactly: value), value32 >= 0, mongoc_uri_set_option_as_int32(uri, option, value32) else {
            throw MongoError(.invalidArgument, "invalid value \(value) for MongoDB option \(option)")
        }
    }

    /// Pops a client for the current (pool) thread, runs `body`, and always pushes the client back.
    /// Blocks: call only from a thread of the client's NIOThreadPool.
    func withConnection<R>(_ body: (MongocConnection) throws -> R) throws -> R {
        guard !destroyed.withLock({ $0 }) else { throw MongoError(.shutdown, "the MongoDB client was shut down") }
        guard let client = mongoc_client_pool_pop(pool) else {
            throw MongoError(.timeout, "no MongoDB connection became free within waitQueueTimeoutMS")
        }
        let connection = MongocConnection(client: client)
        defer {
            connection.close()
            mongoc_client_pool_push(pool, client)
        }
        return try body(connection)
    }

    /// Ends server sessions and closes sockets. Blocks briefly; call once no thread uses the pool.
    func destroy() {
        let first = destroyed.withLock { done in
            defer { done = true }
            return !done
        }
        if first { mongoc_client_pool_destroy(pool) }
    }

    var isDestroyed: Bool { destroyed.withLock { $0 } }
}
