import BillingDomain
import Foundation
import Logging
import MessageBus
import Mongo
import ServiceLifecycle
import Synchronization

/// The billing clock's driver (`billing scheduler`, and part of `billing all`): every `interval`
/// it finds what is due on the real clock and sends the commands that apply it, with ids derived
/// from (object, due time, action). Two schedulers, or a restart, send the same ids, and the
/// workers' ledgers apply each once. Customers on a test clock move only when their clock advances.
public final class BillingScheduler: Service, Sendable {
    let engine: BillingEngine
    let database: MongoDatabase
    let bus: CommandBus
    let clock: any BillingClock
    let interval: Duration
    let logger: Logger
    /// Commands sent recently (id → when), so one still queued is not sent again every tick.
    private let recent = Mutex<[String: Date]>([:])

    public init(
        engine: BillingEngine, database: MongoDatabase, bus: CommandBus, clock: any BillingClock = SystemBillingClock(),
        interval: Duration = .seconds(1), logger: Logger = Logger(label: "billing.scheduler")
    ) {
        self.engine = engine
        self.database = database
        self.bus = bus
        self.clock = clock
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await repeatUntilShutdown(every: interval, logger: logger, failure: "scheduler pass failed") { try await self.tick() }
    }

    /// One pass: sends every due command not sent in the last minute; returns how many were sent.
    @discardableResult
    public func tick() async throws -> Int {
        let now = clock.now()
        let due = try await engine.dueActions(database, testClock: nil, until: now)
        var sent = 0
        for action in due {
            let id = action.commandID
            let fresh = recent.withLock { recent in
                if let at = recent[id], now.timeIntervalSince(at) < 60 { return false }
                recent[id] = now
                return true
            }
            guard fresh else { continue }
            let command = Envelope(
                id: id, type: action.kind.command.name,
                principal: Principal(subject: "service:scheduler", role: .system, tenant: action.tenant),
                payload: .object(["id": .string(action.id), "due_at": .string(MessageCoding.formatTimestamp(action.due))]),
                createdAt: now)
            try await bus.send(command, to: action.kind.command.service)
            sent += 1
        }
        recent.withLock { recent in recent = recent.filter { now.timeIntervalSince($0.value) < 60 } }
        if sent > 0 { logger.debug("scheduled", metadata: ["commands": "\(sent)"]) }
        return sent
    }
}
