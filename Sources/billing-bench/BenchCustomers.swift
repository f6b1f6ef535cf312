import ArgumentParser
import BillingCLI
import Contracts
import CustomerService
import Foundation
import Logging
import MessageBus
import Mongo
import Redis
import Runtime
import ServiceKit
import WorkerRuntime

/// `billing-bench customers`: `customer.get` round trips through the real runtime (bus → consumer
/// group → processor → reply router), with the Redis read cache and without it, same servers, same run.
struct BenchCustomers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "customers",
        abstract: "customer.get round trips/s and p50/p99 with and without the Redis read cache.")

    @Option(help: "Concurrent callers.") var concurrency: Int = 50
    @Option(help: "Customers to read from (random picks).") var customers: Int = 1_000
    @Option(help: "Gets per run.") var requests: Int = 10_000
    @Option(help: "Consumers in the runner.") var consumers: Int = 2

    func run() async throws {
        var settings = try await loadSettings()
        settings.mongoPoolSize = max(settings.mongoPoolSize, 16)
        let infrastructure = try await Infrastructure.connect(settings: settings, logger: Logger(label: "bench"))
        let redis = infrastructure.redis
        let database = infrastructure.mongo.database("bench_\(UUID().uuidString.prefix(8).lowercased())")
        var quiet = Logger(label: "bench")
        quiet.logLevel = .error

        // The customers, written straight to the collection.
        let now = Date()
        let ids = (0..<customers).map { _ in ResourceID.make("cus", at: now) }
        let documents: [BSONDocument] = ids.enumerated().map { i, id in
            [
                "_id": .string(id), "tenant_id": "bench", "name": .string("Bench Customer \(i)"),
                "email": .string("bench\(i)@example.com"), "status": "active", "metadata": ["plan": "pro"],
                "created_at": .datetime(millisecondsOf: now), "updated_at": .datetime(millisecondsOf: now), "version": 1,
            ]
        }
        try await database.collection(CustomerService.collection, as: BSONDocument.self).insertMany(documents)
        let principal = Principal(subject: "bench", role: .admin, tenant: "bench")

        /// What the gets left in Redis under their prefix: bytes (MEMORY USAGE of every key), stream
        /// entries, operation states.
        func retained(_ names: StreamNames) async throws -> (bytes: Int, entries: Int, operations: Int) {
            var bytes = 0
            var operations = 0
            for key in try await redis.keys(prefix: names.prefix + ":") {
                bytes += try await redis.execute(["MEMORY", "USAGE", RedisArgument(key)]).int ?? 0
                if key.hasPrefix("\(names.prefix):op:") { operations += 1 }
            }
            return (bytes, try await redis.send(XLEN(names.commands(CustomerService.name))), operations)
        }
        var left: (bytes: Int, entries: Int, operations: Int) = (0, 0, 0)

        func gets(cacheTTL: Duration?) async throws -> (Measurement, Measurement) {
            let names = StreamNames(prefix: "bench\(UUID().uuidString.prefix(6).lowercased())")
            var consumerSettings = ConsumerSettings()
            consumerSettings.consumers = consumers
            consumerSettings.block = .milliseconds(100)
            let processor = CommandProcessor(
                group: CustomerService.name, registry: CustomerService.registry(.init(names: names, cacheTTL: cacheTTL)),
                database: database, redis: redis, logger: quiet)
            let runner = ConsumerGroupRunner(
                service: CustomerService.name, processor: processor, redis: redis, names: names, settings: consumerSettings,
                logger: quiet)
            let router = ReplyRouter(redis: redis, names: names, logger: quiet)
            let bus = CommandBus(redis: redis, names: names)
            let tasks = [Task { try await runner.run() }, Task { try await router.run() }]
            defer { for task in tasks { task.cancel() } }

            @Sendable func get(_ i: Int) async throws {
                let id = ids[(i &* 7919) % ids.count]
                let envelope = Envelope(
                    type: Commands.CustomerGet.name, replyTo: router.stream, principal: principal,
                    payload: .object(["path": .object(["id": .string(id)])]), createdAt: Date())
                router.expect(envelope.id)
                try await bus.send(envelope, to: CustomerService.name)
                guard let reply = await router.wait(for: envelope.id, timeout: .seconds(30)), reply.status == .succeeded else {
                    throw ValidationError("get \(id) got no successful reply")
                }
            }
            // The first pass reads every customer once (and fills the cache when there is one).
            let cold = try await measure(total: ids.count, concurrency: concurrency) { i in try await get(i) }
            let warm = try await measure(total: requests, concurrency: concurrency) { i in try await get(i) }
            for task in tasks { task.cancel() }
            for task in tasks { _ = try? await task.value }
            left = try await retained(names)
            _ = try? await redis.deleteKeys(prefix: names.prefix + ":")
            return (cold, warm)
        }

        let rawMongo = try await measure(total: 3_000, concurrency: concurrency) { i in
            _ = try await database.collection(CustomerService.collection, as: BSONDocument.self).findOne(
                ["_id": .string(ids[i % ids.count]), "tenant_id": "bench"])
        }
        let (_, uncached) = try await gets(cacheTTL: nil)
        let leftByGets = left
        let (cold, cached) = try await gets(cacheTTL: .seconds(300))

        try? await database.drop()
        await infrastructure.shutdown()

        print("billing-bench customers: customer.get, \(customers) customers, \(requests) gets, \(concurrency) concurrent callers, \(consumers) consumers")
        print(String(format: "  raw find by _id (MongoDB)        %9.0f /s   p50 %.2f ms  p99 %.2f ms", rawMongo.rate, rawMongo.p50, rawMongo.p99))
        print(String(format: "  get, no cache                    %9.0f /s   p50 %.2f ms  p99 %.2f ms", uncached.rate, uncached.p50, uncached.p99))
        print(String(format: "  get, cache filling (first pass)  %9.0f /s   p50 %.2f ms  p99 %.2f ms", cold.rate, cold.p50, cold.p99))
        print(String(format: "  get, cache warm                  %9.0f /s   p50 %.2f ms  p99 %.2f ms   %.2fx no cache", cached.rate, cached.p50, cached.p99, cached.rate / uncached.rate))
        let total = customers + requests
        print(String(format: "  left in Redis by %d gets (no cache): %.1f MB, %.0f bytes per get; %d stream entries, %d operation states (answered: kept 5 min)", total, Double(leftByGets.bytes) / 1_048_576, Double(leftByGets.bytes) / Double(total), leftByGets.entries, leftByGets.operations))
    }
}
