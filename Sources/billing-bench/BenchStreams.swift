import ArgumentParser
import BillingCLI
import BillingDomain
import Foundation
import Logging
import MessageBus
import Mongo
import Redis
import Runtime
import TestService
import WorkerRuntime

/// `billing-bench streams`: command round trips through the real runtime (bus → consumer group →
/// processor → reply router) beside raw XADD and raw insert rates of the same servers, same run.
struct BenchStreams: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streams",
        abstract: "Round trips/s and p50/p99 for a no-op and an insert handler, beside raw XADD and insert rates.")

    @Option(help: "Concurrent callers.") var concurrency: Int = 50
    @Option(help: "No-op round trips.") var noopRequests: Int = 20_000
    @Option(help: "Insert round trips (and raw inserts).") var insertRequests: Int = 3_000
    @Option(help: "Consumers in the runner (the production default is 1).") var consumers: Int = 1
    @Option(help: "Entries per batch (several inserts share one transaction).") var batch: Int = 64
    @Option(help: "Path of redis-benchmark.") var redisBenchmark: String = "/usr/bin/redis-benchmark"
    @Flag(help: "Run the consumers in a `billing-bench serve worker test` process of their own (as in production) rather than in the callers' process.")
    var workerProcess = false
    @Option(help: "Also measure no-op round trips (and raw XADD) at this many callers; 0: don't.")
    var moreConcurrency: Int = 100

    func run() async throws {
        var settings = try await loadSettings()
        settings.mongoPoolSize = max(settings.mongoPoolSize, 16)
        let infrastructure = try await Infrastructure.connect(settings: settings, logger: Logger(label: "bench"))
        let redis = infrastructure.redis
        let database = infrastructure.mongo.database("bench_\(UUID().uuidString.prefix(8).lowercased())")
        let names = StreamNames(prefix: "bench\(UUID().uuidString.prefix(6).lowercased())")
        var quiet = Logger(label: "bench")
        quiet.logLevel = .error

        // Raw rates first, on the same servers.
        let rawXADD = try RedisBench.redisBenchmarkRate(
            redisBenchmark, redis.configuration, concurrency: concurrency, requests: 100_000, stream: names.prefix + ":raw")
        let rawXADDMore =
            moreConcurrency > 0
            ? try RedisBench.redisBenchmarkRate(
                redisBenchmark, redis.configuration, concurrency: moreConcurrency, requests: 100_000,
                stream: names.prefix + ":raw2") : 0
        let rawItems = database.collection("raw", as: TestHandlers.Item.self)
        _ = try await rawItems.insertOne(TestHandlers.Item(commandID: "warm", key: "warm"))
        let rawInsert = try await measure(total: insertRequests, concurrency: concurrency) { i in
            _ = try await rawItems.insertOne(TestHandlers.Item(commandID: "raw-\(i)", key: "k\(i)"))
        }
        let rawSerial = try await measure(total: 300, concurrency: 1) { i in
            _ = try await rawItems.insertOne(TestHandlers.Item(commandID: "serial-\(i)", key: "k\(i)"))
        }

        // The runtime: a consumer group of the test service and a reply router.
        var consumerSettings = ConsumerSettings()
        consumerSettings.consumers = consumers
        consumerSettings.batchSize = batch
        consumerSettings.block = .milliseconds(100)
        let processor = CommandProcessor(
            group: TestHandlers.name, registry: TestHandlers.registry(), database: database, redis: redis, logger: quiet)
        let runner = ConsumerGroupRunner(
            service: TestHandlers.name, processor: processor, redis: redis, names: names, settings: consumerSettings,
            logger: quiet)
        let router = ReplyRouter(redis: redis, names: names, logger: quiet)
        let bus = CommandBus(redis: redis, names: names)
        var tasks = [Task { try await router.run() }]
        var worker: Process?
        if workerProcess {
            // The worker as production runs it; the warm-up below waits for it to start consuming.
            var environment = ProcessInfo.processInfo.environment
            environment["BILLING_STREAM_PREFIX"] = names.prefix
            environment["BILLING_MONGO_URL"] = Self.mongoURL(settings.mongoURL, database: database.name)
            environment["BILLING_CONSUMERS"] = "\(consumers)"
            environment["BILLING_BATCH_SIZE"] = "\(batch)"
            environment["BILLING_LOG_LEVEL"] = "error"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            process.arguments = ["serve", "worker", TestHandlers.name]
            process.environment = environment
            try process.run()
            worker = process
        } else {
            tasks.append(Task { try await runner.run() })
        }
        let principal = Principal(subject: "bench", role: .admin, tenant: "default")

        @Sendable func roundTrip(_ type: String, _ payload: JSONValue) async throws {
            let envelope = Envelope(type: type, replyTo: router.stream, principal: principal, payload: payload, createdAt: Date())
            router.expect(envelope.id)
            try await bus.send(envelope, to: TestHandlers.name)
            guard let reply = await router.wait(for: envelope.id, timeout: .seconds(30)), reply.status == .succeeded else {
                throw ValidationError("round trip \(envelope.id) got no successful reply")
            }
        }

        // Callers spread over the event loops, as the gateway's requests are (on their connection's loop).
        _ = try await measure(total: 500, concurrency: concurrency, onEventLoops: true) { _ in try await roundTrip("test.echo", .null) }
        let noop = try await measure(total: noopRequests, concurrency: concurrency, onEventLoops: true) { _ in
            try await roundTrip("test.echo", .null)
        }
        let noopMore =
            moreConcurrency > 0
            ? try await measure(total: noopRequests * 2, concurrency: moreConcurrency, onEventLoops: true) { _ in
                try await roundTrip("test.echo", .null)
            } : nil
        let insert = try await measure(total: insertRequests, concurrency: concurrency, onEventLoops: true) { i in
            try await roundTrip("test.insert", .object(["key": .string("i\(i)")]))
        }
        let insertSerial = try await measure(total: 300, concurrency: 1, onEventLoops: true) { i in
            try await roundTrip("test.insert", .object(["key": .string("s\(i)")]))
        }

        for task in tasks { task.cancel() }
        for task in tasks { _ = try? await task.value }
        if let worker {
            worker.terminate()
            worker.waitUntilExit()
        }
        try? await database.drop()
        _ = try? await redis.deleteKeys(prefix: names.prefix + ":")
        await infrastructure.shutdown()

        print(
            "billing-bench streams: \(concurrency) concurrent callers, \(consumers) consumers, batch \(batch), "
                + (workerProcess ? "consumers in a worker process of their own" : "consumers in the callers' process"))
        print(String(format: "  raw XADD (redis-benchmark)       %9.0f /s", rawXADD))
        print(String(format: "  raw insert_one (%2d callers)      %9.0f /s   p50 %.2f ms  p99 %.2f ms", concurrency, rawInsert.rate, rawInsert.p50, rawInsert.p99))
        print(String(format: "  raw insert_one (1 caller)        %9.0f /s   p50 %.2f ms", rawSerial.rate, rawSerial.p50))
        print(String(format: "  no-op round trips                %9.0f /s   p50 %.2f ms  p99 %.2f ms   %.2fx raw XADD (target ≥ 0.30)", noop.rate, noop.p50, noop.p99, noop.rate / rawXADD))
        if let noopMore {
            print(String(format: "  raw XADD (redis-benchmark, %3d c.) %8.0f /s", moreConcurrency, rawXADDMore))
            print(String(format: "  no-op round trips (%3d callers)   %8.0f /s   p50 %.2f ms  p99 %.2f ms   %.2fx raw XADD at %d clients", moreConcurrency, noopMore.rate, noopMore.p50, noopMore.p99, noopMore.rate / rawXADDMore, moreConcurrency))
        }
        print(String(format: "  insert round trips               %9.0f /s   p50 %.2f ms  p99 %.2f ms   %.2fx raw insert (target ≥ 0.80)", insert.rate, insert.p50, insert.p99, insert.rate / rawInsert.rate))
        print(String(format: "  insert round trip (1 caller)     %9.0f /s   p50 %.2f ms   overhead over raw insert p50 %.2f ms (target ≤ 1.5)", insertSerial.rate, insertSerial.p50, insertSerial.p50 - rawSerial.p50))
    }
}

extension BenchStreams {
    /// `url` naming `database` instead of its own database (the part after the host, before any options).
    static func mongoURL(_ url: String, database: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let options = rest.firstIndex(of: "?").map { String(rest[$0...]) } ?? ""
        let hostEnd = rest.firstIndex(of: "/") ?? rest.firstIndex(of: "?") ?? rest.endIndex
        return String(url[..<scheme.upperBound]) + rest[..<hostEnd] + "/" + database + options
    }
}

/// Throughput and latency of `total` calls made by `concurrency` tasks.
struct Measurement {
    var rate: Double
    var p50: Double
    var p99: Double
}

/// With `onEventLoops`, caller `n` runs on event loop `n` modulo their number (see `EventLoopTaskExecutor`).
func measure(
    total: Int, concurrency: Int, onEventLoops: Bool = false, _ call: @escaping @Sendable (Int) async throws -> Void
) async throws -> Measurement {
    let started = ContinuousClock.now
    let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
        for worker in 0..<concurrency {
            let executors = EventLoopTaskExecutor.shared
            group.addTask(executorPreference: onEventLoops ? executors[worker % executors.count] : nil) {
                var mine: [Double] = []
                var i = worker
                while i < total {
                    let start = ContinuousClock.now
                    try await call(i)
                    mine.append(milliseconds(ContinuousClock.now - start))
                    i += concurrency
                }
                return mine
            }
        }
        var all: [Double] = []
        for try await part in group { all += part }
        return all.sorted()
    }
    let seconds = milliseconds(ContinuousClock.now - started) / 1000
    func percentile(_ p: Double) -> Double {
        latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]
    }
    return Measurement(rate: Double(total) / seconds, p50: percentile(0.5), p99: percentile(0.99))
}

func milliseconds(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
}
