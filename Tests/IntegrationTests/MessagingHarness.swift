import BillingDomain
import Foundation
import Logging
import MessageBus
import WorkerRuntime
import Mongo
import Redis
import ServiceLifecycle
import TestService
import TestSupport
import WorkerTestSupport
import Testing

/// One isolated messaging setup for a test: its own stream prefix, its own database, the test
/// service's handlers, a reply router, and helpers to run consumers in-process or as real processes.
final class MessagingHarness: @unchecked Sendable {
    let stack: TestStack
    var redis: RedisClient { stack.redis }
    var mongo: MongoClient { stack.mongo }
    var database: MongoDatabase { stack.database }
    var names: StreamNames { stack.names }
    var bus: CommandBus { stack.bus }
    var router: ReplyRouter { stack.replies }
    var services: ServiceStack { stack.services }
    let principal = Principal(subject: "usr_test", role: .admin, tenant: "default")
    private var processes: [Process] = []
    private var logs: [URL] = []
    /// What the in-process components (runners, processors, router) logged, for failure reports.
    let captured: LogCapture

    init() async throws {
        let captured = LogCapture()
        self.captured = captured
        var logger = captured.logger("test.stack")
        logger.logLevel = .debug
        stack = try await TestStack(tag: "msg", migrate: false, logger: logger)
    }

    var stream: String { names.commands(TestHandlers.name) }

    /// Set before `startRunner` to keep secret-bearing replies sealed in the ledger until published.
    var sealer: ReplySealer?

    func processor() -> CommandProcessor {
        var logger = captured.logger("test.processor")
        logger.logLevel = .debug
        var processor = CommandProcessor(
            group: TestHandlers.name, registry: TestHandlers.registry(), database: database, redis: redis, logger: logger)
        processor.sealer = sealer
        return processor
    }

    /// Starts an in-process consumer group runner; returns it so a test can stop it.
    @discardableResult
    func startRunner(_ configure: (inout ConsumerSettings) -> Void = { _ in }) -> RunningService {
        let settings = TestStack.settings {
            $0.claimMinIdle = .milliseconds(500)
            $0.claimInterval = .milliseconds(100)
            configure(&$0)
        }
        var logger = captured.logger("test.consumer")
        logger.logLevel = .debug
        let runner = ConsumerGroupRunner(
            service: TestHandlers.name, processor: processor(), redis: redis, names: names, settings: settings, logger: logger)
        return services.start(runner)
    }

    func command(_ type: String, _ payload: JSONValue = .object([:]), replyTo: Bool = true, deadline: Date? = nil)
        -> Envelope
    {
        Envelope(
            type: type, replyTo: replyTo ? router.stream : "", principal: principal, deadline: deadline,
            payload: payload, createdAt: Date())
    }

    /// Sends a command and waits for its reply (nil after `timeout`).
    /// Sends `envelope` and waits for its reply; every test expects one, so a missing reply is
    /// reported with what explains it (the entry's delivery state, the ledger, the runner's log).
    func roundTrip(_ envelope: Envelope, timeout: Duration = .seconds(20)) async throws -> Reply? {
        router.expect(envelope.id)
        let entryID = try await bus.send(envelope, to: TestHandlers.name)
        let reply = await router.wait(for: envelope.id, timeout: timeout)
        if reply == nil {
            let pending = try? await redis.send(XPENDING(stream, group: TestHandlers.name, start: entryID, end: entryID, count: 1))
            let ledger = try? await database.collection(MessagingStore.processed, as: BSONDocument.self).findOne([
                "_id": .string("\(TestHandlers.name):\(envelope.id)")
            ])
            Issue.record(
                """
                no reply to \(envelope.type) \(envelope.id) (entry \(entryID)) within \(timeout); pending: \(pending.map { "\($0)" } ?? "?"); \
                ledger entry: \(ledger == nil ? "none" : "present"); the in-process components logged: \(captured.text.suffix(4000))
                """)
        }
        return reply
    }

    func items() -> MongoCollection<TestHandlers.Item> { database.collection("items", as: TestHandlers.Item.self) }

    /// Counts item documents per command id.
    func effectCounts() async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for item in try await items().find([:]) { counts[item.commandID, default: 0] += 1 }
        return counts
    }

    /// Polls `condition` until it holds or `timeout` passes; returns whether it held.
    func eventually(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async rethrows -> Bool {
        try await TestServers.eventually(timeout: timeout, condition)
    }

    // MARK: Worker processes

    /// Starts `billing worker test` as a real process; returns once it logs that it is ready.
    func startWorkerProcess(environment extra: [String: String] = [:]) async throws -> Process {
        let (process, log) = try await TestServers.startWorker(
            [TestHandlers.name], prefix: names.prefix, database: database.name,
            environment: ["BILLING_CLAIM_INTERVAL_MS": "250"].merging(extra) { $1 })
        processes.append(process)
        logs.append(log)
        return process
    }

    /// What the worker processes logged so far.
    func workerLogs() -> String {
        logs.compactMap { try? String(contentsOf: $0, encoding: .utf8) }.joined(separator: "\n")
    }

    func shutdown() async {
        for process in processes { await ChildProcess.stop(process) }
        for log in logs { try? FileManager.default.removeItem(at: log) }
        await stack.shutdown()
    }
}
