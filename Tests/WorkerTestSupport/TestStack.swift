import Foundation
import Logging
import MessageBus
import Mongo
import Redis
import Runtime
import TestSupport
import Testing
import WorkerRuntime

/// The servers `scripts/test` started, isolated for one test: Redis and MongoDB clients, a database
/// and a stream prefix no other test uses (collections made by the migrator from
/// schemas/collections), the reply router and the command bus; and what a harness runs on them
/// (workers, event consumers, outbox relays) as one ``ServiceStack``, stopped by graceful shutdown
/// as `billing` stops on SIGTERM. Every harness builds on this one.
public final class TestStack: Sendable {
    public let redis: RedisClient
    public let mongo: MongoClient
    public let database: MongoDatabase
    public let names: StreamNames
    public let replies: ReplyRouter
    public let bus: CommandBus
    public let services = ServiceStack()

    /// `tag` marks the database and prefix (`billing_test_<tag>_<random>`, `t<tag><random>`).
    public init(
        tag: String, redisConnections: Int = 2, mongoPoolSize: Int = 8, migrate: Bool = true,
        logger: Logger = TestStack.quiet("test.stack")
    ) async throws {
        var redisConfiguration = try RedisConfiguration(url: TestServers.url("BILLING_TEST_REDIS_URL"))
        redisConfiguration.connectionCount = redisConnections
        redis = RedisClient(configuration: redisConfiguration)
        mongo = try MongoClient(url: TestServers.url("BILLING_TEST_MONGO_URL"), poolSize: mongoPoolSize, logger: logger)
        let suffix = UUID().uuidString.prefix(8).lowercased()
        database = mongo.database("\(mongo.defaultDatabaseName ?? "billing_test")_\(tag)_\(suffix)")
        names = StreamNames(prefix: "t\(tag)\(suffix)")
        replies = ReplyRouter(redis: redis, names: names, logger: logger)
        bus = CommandBus(redis: redis, names: names)
        services.start(replies)
        if migrate {
            _ = try await CollectionMigrator(client: mongo, database: database.name).apply(
                folder: TestServers.repository.appendingPathComponent("schemas/collections").path, logger: logger)
        }
    }

    /// A logger that reports errors only.
    public static func quiet(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = .error
        return logger
    }

    /// Consumer settings for tests: short blocking reads, so shutdown and new entries are quick.
    public static func settings(_ configure: (inout ConsumerSettings) -> Void = { _ in }) -> ConsumerSettings {
        var settings = ConsumerSettings()
        settings.block = .milliseconds(200)
        configure(&settings)
        return settings
    }

    /// Runs `service`'s command consumer group with `registry`, as `billing worker <service>` does.
    @discardableResult
    public func startWorker(
        _ service: String, _ registry: HandlerRegistry, settings: ConsumerSettings = TestStack.settings(),
        logger: Logger = TestStack.quiet("test.worker")
    ) -> RunningService {
        let processor = CommandProcessor(group: service, registry: registry, database: database, redis: redis, logger: logger)
        return services.start(
            ConsumerGroupRunner(
                service: service, processor: processor, redis: redis, names: names, settings: settings, logger: logger))
    }

    /// Runs a consumer group of `billing:events` (its ledger is `ledger`, by default the group's name).
    @discardableResult
    public func startEventConsumer(
        group: String, ledger: String? = nil, deadLetters: String? = nil, _ registry: HandlerRegistry,
        settings: ConsumerSettings = TestStack.settings(), logger: Logger = TestStack.quiet("test.events")
    ) -> RunningService {
        let processor = CommandProcessor(
            group: ledger ?? group, registry: registry, database: database, redis: redis, logger: logger)
        return services.start(
            ConsumerGroupRunner(
                stream: names.events, group: group, deadLetterStream: names.deadLetters(deadLetters ?? group),
                processor: processor, redis: redis, names: names, settings: settings, logger: logger))
    }

    /// Runs the outbox relay, which publishes what the workers' transactions raised and sent.
    @discardableResult
    public func startRelay(logger: Logger = TestStack.quiet("test.outbox")) -> RunningService {
        services.start(OutboxRelay(database: database, bus: bus, pollInterval: .milliseconds(50), logger: logger))
    }

    /// Sends a command straight to a worker's stream (as another service would) and waits for its reply.
    public func command(
        _ type: String, to service: String, principal: Principal, payload: JSONValue, id: String = MessageID.make(),
        timeout: Duration = .seconds(20)
    ) async throws -> Reply {
        let envelope = Envelope(
            id: id, type: type, replyTo: replies.stream, principal: principal, payload: payload, createdAt: Date())
        replies.expect(envelope.id)
        try await bus.send(envelope, to: service)
        return try #require(await replies.wait(for: envelope.id, timeout: timeout), "no reply to \(type)")
    }

    /// The documents of `collection` matching `filter`.
    public func documents(_ collection: String, _ filter: BSONDocument = [:]) async throws -> [BSONDocument] {
        try await database.collection(collection, as: BSONDocument.self).find(filter)
    }

    /// Stops what runs (last started, first stopped), drops the database and the prefix's keys, closes the clients.
    public func shutdown() async {
        await services.shutdown()
        try? await database.drop()
        _ = try? await redis.deleteKeys(prefix: names.prefix + ":")
        await redis.shutdown()
        try? await mongo.shutdown()
    }
}
