import Foundation
import Logging
import Messaging
import Mongo
import TestService
import Redis
import ServiceLifecycle

// A worker process for fault tests: runs the test service's consumer group (and, when asked,
// the outbox relay) until SIGTERM, so tests can SIGKILL or SIGTERM a real process.
// Configured by env: BILLING_REDIS_URL, BILLING_MONGO_URL, TEST_STREAM_PREFIX, TEST_BATCH,
// TEST_CONSUMERS, TEST_CLAIM_IDLE_MS, TEST_CLAIM_INTERVAL_MS, TEST_MAX_DELIVERIES, TEST_RELAY.

let env = ProcessInfo.processInfo.environment
LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .warning
    return handler
}
let logger = Logger(label: "test-worker")

func setting(_ name: String, _ fallback: Int) -> Int { env[name].flatMap(Int.init) ?? fallback }

do {
    let redis = RedisClient(configuration: try RedisConfiguration(url: env["BILLING_REDIS_URL"] ?? "redis://127.0.0.1:6379"))
    let mongo = try MongoClient(url: env["BILLING_MONGO_URL"] ?? "mongodb://127.0.0.1:27017/billing_test", logger: logger)
    let names = StreamNames(prefix: env["TEST_STREAM_PREFIX"] ?? "billing")
    let database = mongo.database(mongo.defaultDatabaseName ?? "billing_test")
    var settings = ConsumerSettings()
    settings.batchSize = setting("TEST_BATCH", 8)
    settings.consumers = setting("TEST_CONSUMERS", 1)
    settings.claimMinIdle = .milliseconds(setting("TEST_CLAIM_IDLE_MS", 1000))
    settings.claimInterval = .milliseconds(setting("TEST_CLAIM_INTERVAL_MS", 250))
    settings.maxDeliveries = setting("TEST_MAX_DELIVERIES", 5)
    settings.block = .milliseconds(200)
    let processor = CommandProcessor(group: TestHandlers.name, registry: TestHandlers.registry(), database: database, redis: redis)
    let runner = ConsumerGroupRunner(service: TestHandlers.name, processor: processor, redis: redis, names: names, settings: settings)
    var services: [any Service] = [runner]
    if env["TEST_RELAY"] == "1" {
        services.append(OutboxRelay(database: database, bus: CommandBus(redis: redis, names: names)))
    }
    FileHandle.standardOutput.write(Data("ready \(runner.consumerName(0))\n".utf8))
    let group = ServiceGroup(
        configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await group.run()
    await redis.shutdown()
    try await mongo.shutdown()
} catch {
    FileHandle.standardError.write(Data("test worker failed: \(error)\n".utf8))
    exit(1)
}
