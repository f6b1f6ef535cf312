import MessageBus
import Foundation
import Logging
import Metrics
import Mongo
import Redis
import ServiceLifecycle
import Synchronization

/// Publishes outbox events to `billing:events` (and commands for other services to their streams)
/// after their transaction committed, then deletes them from the outbox. A crash between XADD and the delete publishes an event twice, never zero
/// times; consumers dedupe by event ID. Every worker process runs one; a Redis lease lets only one
/// of them publish at a time (another takes over within the lease time if it dies). An outbox
/// document that cannot be read goes to `billing:dlq:outbox` and the others keep flowing.
public final class OutboxRelay: Service, Sendable {
    private let database: MongoDatabase
    private let bus: CommandBus
    private let pollInterval: Duration
    private let batchSize: Int
    private let logger: Logger
    private let wake = WakeSignal()
    private let leaseKey: String
    private let owner = UUID().uuidString
    private let leaseTime: Duration
    /// Until when, by this process's clock, the lease is surely still ours (nil: not held). It is
    /// counted from before the request that took or renewed it, so it ends no later than the key.
    private let leaseValidUntil = Mutex<ContinuousClock.Instant?>(nil)
    private let deadLetterStream: String
    private let deadLettered: Counter
    /// Tests: runs after a batch was read and before it is published (a pause there is what a
    /// lease must survive).
    private let afterRead: (@Sendable () async -> Void)?

    /// Takes the lease, or renews it while it is ours.
    static let lease = RedisScript(
        """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
          return 1
        end
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
        return 0
        """)

    /// Renews the lease only if it never lapsed: one retaken after a lapse would hide that another
    /// relay may have held it meanwhile and published the entries this one has in hand.
    static let renew = RedisScript(
        """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
          return 1
        end
        return 0
        """)

    /// Hands the lease on, if it is still ours (never another relay's).
    static let release = RedisScript(
        """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """)

    public convenience init(
        database: MongoDatabase, bus: CommandBus, pollInterval: Duration = .milliseconds(200), batchSize: Int = 200,
        leaseTime: Duration = .seconds(5), logger: Logger = Logger(label: "billing.outbox")
    ) {
        self.init(
            database: database, bus: bus, pollInterval: pollInterval, batchSize: batchSize, leaseTime: leaseTime,
            logger: logger, afterRead: nil)
    }

    init(
        database: MongoDatabase, bus: CommandBus, pollInterval: Duration, batchSize: Int, leaseTime: Duration,
        logger: Logger, afterRead: (@Sendable () async -> Void)?
    ) {
        self.database = database
        self.bus = bus
        self.leaseKey = "\(bus.names.prefix):outbox:relay-lease"
        self.leaseTime = leaseTime
        self.pollInterval = pollInterval
        self.batchSize = batchSize
        self.logger = logger
        self.afterRead = afterRead
        self.deadLetterStream = bus.names.deadLetters("outbox")
        self.deadLettered = Counter(
            label: "billing_messages_dead_lettered_total", dimensions: [("group", "outbox"), ("type", "unknown")])
    }

    /// Asks the relay to look now (a worker just committed events).
    public func nudge() {
        wake.signal()
    }

    /// Publishes what the outbox holds now, lease or not; returns how many entries were published.
    @discardableResult
    public func publishPending() async throws -> Int {
        try await publishPending(leased: false)
    }

    /// `leased`: the lease is checked before every publication, and the pass ends as soon as it is
    /// no longer ours, so two relays never publish at once (the one whose lease ran out during a
    /// pause stops; the other has re-read the outbox under its own lease).
    private func publishPending(leased: Bool) async throws -> Int {
        let outbox = database.collection(MessagingStore.outbox, as: BSONDocument.self)
        var total = 0
        while true {
            if leased, try await !stillLeased() { return total }
            let documents = try await outbox.findDocuments([:], options: FindOptions(sort: ["created_at": 1], limit: batchSize))
            guard !documents.isEmpty else { return total }
            await afterRead?()
            var done: [BSONValue] = []
            var lost = false
            var failure: (any Error)?
            // A stream at its capacity keeps its entries here (in order) until it has room; the rest flow.
            var full: Set<String> = []
            for document in documents {
                guard let id = document["_id"] else { continue }
                do {
                    if leased, try await !stillLeased() {
                        lost = true
                        break
                    }
                    switch Self.read(document) {
                    case .entry(let entry, let envelope):
                        let stream = entry.service.map(bus.names.commands) ?? bus.names.events
                        if full.contains(stream) { continue }
                        if let service = entry.service {
                            try await bus.send(envelope, to: service)
                        } else {
                            try await bus.publish(envelope)
                        }
                        total += 1
                    case .unreadable(let reason):
                        try await deadLetter(document, id: id, error: reason)
                    }
                    done.append(id)
                } catch let error as StreamFull {
                    full.insert(error.stream)
                } catch {
                    failure = error
                    break
                }
            }
            if !full.isEmpty {
                logger.warning(
                    "streams at their capacity; their entries wait in the outbox",
                    metadata: ["streams": "\(full.sorted().joined(separator: ","))"])
            }
            // What went out is deleted even when the pass stops half-way, so it is not sent again.
            if !done.isEmpty { _ = try await outbox.deleteMany(["_id": ["$in": .array(done)]]) }
            if let failure { throw failure }
            if lost {
                logger.warning("outbox relay lost its lease; another relay publishes", metadata: ["published": "\(total)"])
                return total
            }
            if documents.count < batchSize || done.isEmpty { return total }
        }
    }

    /// An outbox document as the relay sees it.
    private enum Read {
        case entry(OutboxEntry, Envelope)
        case unreadable(String)
    }

    private static func read(_ document: BSONDocument) -> Read {
        let entry: OutboxEntry
        do {
            entry = try BSONDecoder().decode(OutboxEntry.self, from: document)
        } catch {
            return .unreadable("unreadable outbox document: \(MessageCoding.describe(error))")
        }
        do {
            return .entry(entry, try MessageCoding.decode(Envelope.self, from: entry.envelope))
        } catch {
            return .unreadable("malformed envelope: \(MessageCoding.describe(error))")
        }
    }

    /// Moves an outbox document nothing can publish to `billing:dlq:outbox`, with the reason (it was
    /// thrown out of every pass before, and the entries behind it were never published).
    private func deadLetter(_ document: BSONDocument, id: BSONValue, error: String) async throws {
        let originalID = id.stringValue ?? "\(id)"
        let fields = DeadLetter.fields(
            originalID: originalID, envelope: document["envelope"]?.stringValue ?? "", error: error, deliveries: 1,
            at: Date())
        try await bus.redis.send(XADD(deadLetterStream, fields: fields.map { ($0.0, RedisArgument($0.1)) }))
        deadLettered.increment()
        logger.error("outbox entry dead-lettered", metadata: ["id": "\(originalID)", "error": "\(error)"])
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    if try await holdLease(), try await publishPending(leased: true) > 0 { continue }
                } catch {
                    logger.warning("outbox relay failed", metadata: ["error": "\(error)"])
                }
                await sleepOrNudge()
            }
        } onGracefulShutdown: {
            self.nudge()
        }
        // Last pass so a clean stop leaves nothing behind, then hand the lease on.
        if (try? await holdLease()) == true {
            _ = try? await publishPending(leased: true)
            _ = try? await bus.redis.eval(Self.release, keys: [leaseKey], arguments: [RedisArgument(owner)])
        }
    }

    private var leaseMilliseconds: Int64 { leaseTime.wholeMilliseconds }

    /// Takes or renews the publishing lease; false while another relay holds it.
    private func holdLease() async throws -> Bool {
        try await lease(Self.lease)
    }

    /// Whether the lease is still ours: by the local clock while more than half of it is left,
    /// else by renewing it, which fails once it lapsed (it is not retaken in the middle of a pass).
    private func stillLeased() async throws -> Bool {
        if let until = leaseValidUntil.withLock({ $0 }), ContinuousClock.now < until - leaseTime / 2 { return true }
        return try await lease(Self.renew)
    }

    private func lease(_ script: RedisScript) async throws -> Bool {
        let asked = ContinuousClock.now
        let arguments = [RedisArgument(owner), RedisArgument(leaseMilliseconds)]
        let held = try await bus.redis.eval(script, keys: [leaseKey], arguments: arguments) == .integer(1)
        leaseValidUntil.withLock { $0 = held ? asked + leaseTime : nil }
        return held
    }

    /// Until the poll interval passes or someone nudges. (A task group racing a sleep against a
    /// continuation stored from a second child lost the wake-up when the sleep finished before the
    /// child had stored its continuation, and then waited forever: the relay, and whatever awaited
    /// it, hung on a loaded machine.)
    private func sleepOrNudge() async {
        await wake.wait(timeout: pollInterval)
    }
}
