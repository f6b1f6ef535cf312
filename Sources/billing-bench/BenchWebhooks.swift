import ArgumentParser
import BillingCLI
import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MessageBus
import Mongo
import NIOCore
import Redis
import Runtime
import Synchronization
import TestService
import WebhookService
import WorkerRuntime

/// `billing-bench webhooks`: domain changes (a `test.emit` command whose transaction raises an event
/// through the outbox) delivered as signed webhooks to a local receiver, with 1 and with 4
/// endpoints: deliveries/s and the delay from the change (the event's `created_at`) to the receiver.
struct BenchWebhooks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhooks",
        abstract: "Webhook deliveries/s to a local receiver (1 and 4 endpoints) and change-to-receiver delay p50/p99.")

    @Option(help: "Domain changes (events) per run.") var events: Int = 1_000
    @Option(help: "Deliveries in flight in the dispatcher.") var concurrency: Int = 16
    @Option(help: "Changes sent one at a time (each waits for its delivery) for the unloaded delay.") var paced: Int = 100
    @Option(help: "Folder of the collection definitions.") var schemas: String = "schemas/collections"

    func run() async throws {
        var settings = try await loadSettings()
        settings.mongoPoolSize = max(settings.mongoPoolSize, 32)
        let infrastructure = try await Infrastructure.connect(settings: settings, logger: Logger(label: "bench"))
        let receiver = try await BenchReceiver.start()
        // The MongoDB-protocol server's raw rate on this machine, for scale: every delivery costs a
        // few of its operations (fan-out, claim, reads, attempt log).
        let scratch = infrastructure.mongo.database("benchwh_raw_\(UUID().uuidString.prefix(8).lowercased())")
        let rawItems = scratch.collection("raw", as: TestHandlers.Item.self)
        let raw = try await measure(total: 1_000, concurrency: 32) { i in
            _ = try await rawItems.insertOne(TestHandlers.Item(commandID: "raw-\(i)", key: "k\(i)"))
        }
        try? await scratch.drop()
        var lines: [String] = [String(format: "  raw insert_one (32 callers) %8.0f /s on the same server", raw.rate)]
        for endpoints in [1, 4] {
            let result = try await runOnce(endpoints: endpoints, infrastructure: infrastructure, receiver: receiver)
            lines.append(
                String(
                    format: "  %d endpoint%@  burst of %d changes: %8.0f deliveries/s   delay p50 %8.1f ms  p99 %8.1f ms",
                    endpoints, endpoints == 1 ? " " : "s", events, result.rate, result.p50, result.p99))
            if let unloaded = result.paced {
                lines.append(
                    String(
                        format: "  %d endpoint%@  %d changes one at a time:                  delay p50 %8.1f ms  p99 %8.1f ms",
                        endpoints, endpoints == 1 ? " " : "s", paced, unloaded.p50, unloaded.p99))
            }
        }
        await receiver.stop()
        await infrastructure.shutdown()
        print("billing-bench webhooks: \(events) domain changes per run, dispatcher concurrency \(concurrency), development mode (http on loopback)")
        for line in lines { print(line) }
    }

    struct Result {
        var deliveries: Int
        var rate: Double
        var p50: Double
        var p99: Double
        var paced: (p50: Double, p99: Double)?
    }

    func runOnce(endpoints: Int, infrastructure: Infrastructure, receiver: BenchReceiver) async throws -> Result {
        let redis = infrastructure.redis
        let database = infrastructure.mongo.database("benchwh_\(UUID().uuidString.prefix(8).lowercased())")
        let names = StreamNames(prefix: "benchwh\(UUID().uuidString.prefix(6).lowercased())")
        var quiet = Logger(label: "bench")
        quiet.logLevel = .error
        _ = try await CollectionMigrator(client: infrastructure.mongo, database: database.name).apply(folder: schemas, logger: quiet)
        var configuration = WebhookConfiguration(
            names: names, secretSealingKey: WebhookConfiguration.developmentSealingKey, development: true)
        configuration.concurrency = concurrency
        configuration.pollInterval = .milliseconds(100)
        let service = WebhookService(configuration: configuration)
        let bus = CommandBus(redis: redis, names: names)
        let router = ReplyRouter(redis: redis, names: names, logger: quiet)
        var commandSettings = ConsumerSettings()
        commandSettings.block = .milliseconds(100)
        commandSettings.batchSize = 64
        commandSettings.consumers = 2
        var eventSettings = commandSettings
        eventSettings.publishesReplies = false
        let services: [any ServiceLike] = [
            router,
            ConsumerGroupRunner(
                service: WebhookService.name,
                processor: CommandProcessor(group: WebhookService.name, registry: service.registry(), database: database, redis: redis, logger: quiet),
                redis: redis, names: names, settings: commandSettings, logger: quiet),
            ConsumerGroupRunner(
                service: TestHandlers.name,
                processor: CommandProcessor(group: TestHandlers.name, registry: TestHandlers.registry(), database: database, redis: redis, logger: quiet),
                redis: redis, names: names, settings: commandSettings, logger: quiet),
            ConsumerGroupRunner(
                stream: names.events, group: WebhookService.eventGroup, deadLetterStream: names.deadLetters(WebhookService.eventLedger),
                processor: CommandProcessor(
                    group: WebhookService.eventLedger, registry: service.eventRegistry(), database: database, redis: redis, logger: quiet),
                redis: redis, names: names, settings: eventSettings, logger: quiet),
            OutboxRelay(database: database, bus: bus, pollInterval: .milliseconds(20), logger: quiet),
            WebhookDispatcher(service: service, database: database, bus: bus, logger: quiet),
        ]
        let tasks = services.map { service in Task { try await service.run() } }
        let admin = Principal(subject: "bench", role: .admin, tenant: "default")
        let run = UUID().uuidString.prefix(6)
        for index in 0..<endpoints {
            let create = Envelope(
                type: Commands.WebhookEndpointCreate.name, replyTo: router.stream, principal: admin,
                payload: .object([
                    "body": .object([
                        "url": .string("http://127.0.0.1:\(receiver.port)/hook/\(run)-\(index)"), "events": .array([.string("test.happened")]),
                    ])
                ]), createdAt: Date())
            router.expect(create.id)
            try await bus.send(create, to: WebhookService.name)
            guard let reply = await router.wait(for: create.id, timeout: .seconds(30)), reply.status == .succeeded else {
                throw ValidationError("the webhook endpoint was not created")
            }
        }
        receiver.reset(prefix: "/hook/\(run)-")
        let expected = events * endpoints
        let started = ContinuousClock.now
        _ = try await measure(total: events, concurrency: 32) { i in
            let change = Envelope(
                type: "test.emit", principal: admin, payload: .object(["n": .number(String(i))]), createdAt: Date())
            try await bus.send(change, to: TestHandlers.name)
        }
        let deadline = ContinuousClock.now + .seconds(600)
        while receiver.uniqueCount < expected, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let seconds = milliseconds(ContinuousClock.now - started) / 1000
        let delays = receiver.delays.sorted()
        guard receiver.uniqueCount >= expected else {
            throw ValidationError("only \(receiver.uniqueCount) of \(expected) deliveries arrived within 600 s")
        }
        // Unloaded: one change at a time, each waiting for all its deliveries.
        var pacedDelays: [Double] = []
        if paced > 0 {
            receiver.reset(prefix: "/hook/\(run)-")
            for i in 0..<paced {
                let change = Envelope(
                    type: "test.emit", principal: admin, payload: .object(["n": .number(String(i))]), createdAt: Date())
                try await bus.send(change, to: TestHandlers.name)
                let end = ContinuousClock.now + .seconds(30)
                while receiver.uniqueCount < (i + 1) * endpoints, ContinuousClock.now < end {
                    try await Task.sleep(for: .milliseconds(1))
                }
            }
            pacedDelays = receiver.delays.sorted()
        }
        for task in tasks { task.cancel() }
        for task in tasks { _ = try? await task.value }
        try? await database.drop()
        _ = try? await redis.deleteKeys(prefix: names.prefix + ":")
        func percentile(_ p: Double) -> Double { delays.isEmpty ? 0 : delays[min(delays.count - 1, Int(Double(delays.count) * p))] }
        func pacedPercentile(_ p: Double) -> Double { pacedDelays[min(pacedDelays.count - 1, Int(Double(pacedDelays.count) * p))] }
        return Result(
            deliveries: expected, rate: Double(expected) / seconds, p50: percentile(0.5), p99: percentile(0.99),
            paced: pacedDelays.isEmpty ? nil : (pacedPercentile(0.5), pacedPercentile(0.99)))
    }
}

/// Anything the bench runs as a task until canceled.
protocol ServiceLike: Sendable {
    func run() async throws
}

extension ReplyRouter: ServiceLike {}
extension ConsumerGroupRunner: ServiceLike {}
extension OutboxRelay: ServiceLike {}
extension WebhookDispatcher: ServiceLike {}

/// A local receiver: answers 204 and records, per (path, webhook-id), the delay from the event's
/// `created_at` to its arrival.
final class BenchReceiver: Sendable {
    private struct State {
        var prefix = ""
        var seen: Set<String> = []
        var delays: [Double] = []
    }

    private let state = Mutex(State())
    let port: Int
    private let task: Task<Void, any Error>

    private init(port: Int, task: Task<Void, any Error>) {
        self.port = port
        self.task = task
    }

    static func start() async throws -> BenchReceiver {
        let box = Box()
        let router = Router()
        router.post("/hook/{name}") { request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 20)
            let arrived = Date()
            let id = request.headers[HTTPField.Name("webhook-id")!] ?? ""
            let created = (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: body)))?["created_at"]?.stringValue
                .flatMap(MessageCoding.parseTimestamp)
            box.receiver.withLock { $0 }?.record(path: request.uri.path, id: id, created: created, arrived: arrived)
            return .noContent
        }
        let port = Mutex<Int?>(nil)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } },
            logger: Logger(label: "bench.receiver", factory: { _ in SwiftLogNoOpLogHandler() }))
        let task = Task { try await app.runService() }
        for _ in 0..<500 where port.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(10)) }
        guard let bound = port.withLock({ $0 }) else { throw ValidationError("the bench receiver did not start") }
        let receiver = BenchReceiver(port: bound, task: task)
        box.receiver.withLock { $0 = receiver }
        return receiver
    }

    final class Box: Sendable {
        let receiver = Mutex<BenchReceiver?>(nil)
    }

    func reset(prefix: String) { state.withLock { $0 = State(prefix: prefix) } }

    func record(path: String, id: String, created: Date?, arrived: Date) {
        state.withLock { state in
            guard path.hasPrefix(state.prefix), state.seen.insert(path + "|" + id).inserted else { return }
            if let created { state.delays.append(arrived.timeIntervalSince(created) * 1000) }
        }
    }

    var uniqueCount: Int { state.withLock { $0.seen.count } }
    var delays: [Double] { state.withLock { $0.delays } }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}
