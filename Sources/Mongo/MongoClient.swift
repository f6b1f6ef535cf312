import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A MongoDB client: a libmongoc connection pool behind a thread pool of the same size, so every
/// blocking libmongoc call runs on a dedicated thread that never waits for a connection.
///
/// Sendable without `@unchecked`: the one C handle lives in `MongocClientPool`, which is
/// `@unchecked Sendable` because `mongoc_client_pool_t` is thread-safe.
public final class MongoClient: Sendable {
    public let logger: Logger
    /// The database in the URL path (`mongodb://host/billing` → `billing`), used when none is given.
    public let defaultDatabaseName: String?
    public let poolSize: Int
    private let pool: MongocClientPool
    private let threadPool: NIOThreadPool
    private let state = Mutex(State.running)
    private let transactionRetryLimit: Duration

    private enum State { case running, shuttingDown, shutDown }

    /// Parses `url` (a bad one throws `.invalidArgument` saying what is wrong) and starts `poolSize` threads.
    ///
    /// - Parameters:
    ///   - serverSelectionTimeout: how long an operation waits for a reachable server before `.network`.
    ///   - transactionRetryLimit: how long `withTransaction` keeps retrying transient failures.
    /// Options written in the URL (`serverSelectionTimeoutMS=…`) win over the parameters.
    public init(
        url: String, poolSize: Int = 16, serverSelectionTimeout: Duration = .seconds(5),
        connectTimeout: Duration = .seconds(5), socketTimeout: Duration? = nil, waitQueueTimeout: Duration = .seconds(10),
        transactionRetryLimit: Duration = .seconds(60), appName: String = "billing", logger: Logger
    ) throws {
        guard poolSize >= 1 else { throw MongoError(.invalidArgument, "poolSize must be at least 1, got \(poolSize)") }
        let settings = MongocClientPool.Settings(
            poolSize: poolSize,
            serverSelectionTimeoutMS: Self.milliseconds(serverSelectionTimeout),
            connectTimeoutMS: Self.milliseconds(connectTimeout),
            socketTimeoutMS: socketTimeout.map(Self.milliseconds),
            waitQueueTimeoutMS: Self.milliseconds(waitQueueTimeout),
            appName: appName)
        self.pool = try MongocClientPool(url: url, settings: settings)
        self.defaultDatabaseName = pool.defaultDatabase
        self.poolSize = poolSize
        self.logger = logger
        self.transactionRetryLimit = transactionRetryLimit
        self.threadPool = NIOThreadPool(numberOfThreads: poolSize)
        threadPool.start()
    }

    deinit {
        if state.withLock({ $0 }) == .running {
            logger.warning("MongoClient deinitialised without shutdown(); its connections and threads leak")
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(clamping: seconds) &* 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }

    // MARK: Running on the pool

    /// Runs `body` on a pool thread with a popped connection; the only way into libmongoc.
    func run<R: Sendable>(_ body: @escaping @Sendable (MongocConnection) throws -> R) async throws -> R {
        guard state.withLock({ $0 }) == .running else {
            throw MongoError(.shutdown, "the MongoDB client was shut down")
        }
        do {
            return try await threadPool.runIfActive { [pool] in try pool.withConnection(body) }
        } catch is NIOThreadPoolError.ThreadPoolInactive {
            throw MongoError(.shutdown, "the MongoDB client was shut down")
        } catch let error as CancellationError {
            // The thread pool cancels queued work when it shuts down; a cancelled task stays a cancellation.
            if !Task.isCancelled && state.withLock({ $0 }) != .running {
                throw MongoError(.shutdown, "the MongoDB client was shut down before the operation ran")
            }
            throw error
        }
    }

    func databaseName(_ name: String?) throws -> String {
        guard let name = name ?? defaultDatabaseName, !name.isEmpty else {
            throw MongoError(.invalidArgument, "no database given and the MongoDB URL names none")
        }
        return name
    }

    // MARK: Public API

    public func database(_ name: String) -> MongoDatabase {
        MongoDatabase(client: self, name: name)
    }

    /// Round trip to the server (`ping`); fails fast with `.network`/`.timeout` when it is unreachable.
    public func ping() async throws {
        _ = try await run { try $0.runCommand(database: "admin", command: ["ping": 1]) }
    }

    /// Kills server sessions by ID (``MongoTransaction/sessionID()``): whatever transaction one
    /// has open is aborted at once, releasing its writes, instead of when the server's transaction
    /// lifetime limit (60 s by default) runs out. Unknown IDs are ignored.
    public func killSessions(_ ids: [BSONDocument]) async throws {
        guard !ids.isEmpty else { return }
        let command: BSONDocument = ["killSessions": .array(ids.map { .document($0) })]
        _ = try await run { try $0.runCommand(database: "admin", command: command) }
    }

    /// Runs a synchronous `body` on one pool thread with one connection, for several calls in one hop.
    public func withConnection<T: Sendable>(
        database: String? = nil, _ body: @escaping @Sendable (MongoConnection) throws -> T
    ) async throws -> T {
        let databaseName = try databaseName(database)
        return try await run { connection in
            try body(MongoConnection(connection: connection, databaseName: databaseName))
        }
    }

    /// Runs `body` in a transaction on one connection and session, and commits.
    ///
    /// If `body` throws, the transaction is aborted (nothing is written) and its error is rethrown as
    /// is. Transient failures (write conflicts, `TransientTransactionError`) rerun `body`, and an
    /// `UnknownTransactionCommitResult` retries the commit, for up to `transactionRetryLimit`.
    public func withTransaction<T: Sendable>(
        database: String? = nil, _ body: @escaping @Sendable (MongoTransaction) throws -> T
    ) async throws -> T {
        let databaseName = try databaseName(database)
        let limit = transactionRetryLimit
        let logger = logger
        return try await run { connection in
            try connection.withSession { session in
                try TransactionRunner(session: session, retryLimit: limit, logger: logger).run {
                    try body(MongoTransaction(connection: session, databaseName: databaseName))
                }
            }
        }
    }

    /// Stops the threads (queued operations fail with `.shutdown`) and closes every connection. Idempotent.
    public func shutdown() async throws {
        let first = state.withLock { state -> Bool in
            guard state == .running else { return false }
            state = .shuttingDown
            return true
        }
        guard first else { return }
        defer { state.withLock { $0 = .shutDown } }
        try await threadPool.shutdownGracefully()
        // mongoc_client_pool_destroy ends server sessions over the network: keep it off this executor.
        try await NIOThreadPool.singleton.runIfActive { [pool] in pool.destroy() }
        logger.debug("MongoClient shut down")
    }
}

extension MongoClient: Service {
    /// Waits for graceful shutdown of the service group, then shuts the client down.
    public func run() async throws {
        try? await gracefulShutdown()
        try await shutdown()
    }
}

/// The retry loop of the transactions spec, run synchronously on one pool thread.
struct TransactionRunner {
    let session: MongocConnection
    let retryLimit: Duration
    let logger: Logger

    func run<R>(_ body: () throws -> R) throws -> R {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: retryLimit)
        var attempt = 0
        transaction: while true {
            attempt += 1
            try session.startTransaction()
            let result: R
            do {
                result = try body()
            } catch {
                session.abortTransaction()
                if let mongo = error as? MongoError, mongo.isTransientTransactionError, clock.now < deadline {
                    logger.debug("retrying transaction after transient error", metadata: ["error": "\(mongo)"])
                    backoff(attempt)
                    continue transaction
                }
                throw error
            }
            while true {
                do {
                    try session.commitTransaction()
                    return result
                } catch let error as MongoError {
                    let timedOut = error.serverCode == 50
                    if error.hasLabel(MongoError.unknownCommitResultLabel), !timedOut, clock.now < deadline {
                        continue
                    }
                    if error.isTransientTransactionError, clock.now < deadline {
                        backoff(attempt)
                        continue transaction
                    }
                    throw error
                }
            }
        }
    }

    /// A short jittered pause so two conflicting transactions do not retry in lockstep.
    private func backoff(_ attempt: Int) {
        let maxMicroseconds = min(100_000, 1_000 << min(attempt, 7))
        Thread.sleep(forTimeInterval: Double(Int.random(in: 0...maxMicroseconds)) / 1_000_000)
    }
}

