import MessageBus
import Foundation
import Logging
import Mongo
import Redis
import ServiceLifecycle
import Synchronization

/// Publishes outbox events to `billing:events` (and commands for other services to their streams)
/// after their transaction committed, then deletes them from the outbox. A crash between XADD and the delete publishes an event twice, never zero
/// times; consumers dedupe by event ID. Every worker process runs one; a Redis lease lets only one
/// of them publish at a time (another takes over within the lease time if it dies).
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

    static let lease = RedisScript(
        """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
          redis.call('PEXPIRE', KEYS[1], ARGV[2])
          return 1
        end
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
        return 0
        """)

    public init(
        database: MongoDatabase, bus: CommandBus, pollInterval: Duration = .milliseconds(200), batchSize: Int = 200,
        leaseTime: Duration = .seconds(5), logger: Logger = Logger(label: "billing.outbox")
    ) {
        self.database = database
        self.bus = bus
        self.leaseKey = "\(bus.names.prefix):outbox:relay-lease"
        self.leaseTime = leaseTime
        self.pollInterval = pollInterval
        self.batchSize = batchSize
        self.logger = logger
    }

    /// Asks the relay to look now (a worker just committed events).
    public func nudge() {
        wake.signal()
    }

    /// Publishes what the outbox holds now; returns how many events were published.
    @discardableResult
    public func publishPending() async throws -> Int {
        let outbox = database.collection(MessagingStore.outbox, as: OutboxEntry.self)
        var total = 0
        while true {
            let entries = try await outbox.find([:], options: FindOptions(sort: ["created_at": 1], limit: batchSize))
            guard !entries.isEmpty else { return total }
            var published: [BSONValue] = []
            for entry in entries {
                let envelope = try MessageCoding.decode(Envelope.self, from: entry.envelope)
                if let service = entry.service {
                    try await bus.send(envelope, to: service)
                } else {
                    try await bus.publish(envelope)
                }
                published.append(.string(entry.id))
            }
            _ = try await outbox.deleteMany(["_id": ["$in": .array(published)]])
            total += entries.count
            if entries.count < batchSize { return total }
        }
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    if try await holdLease(), try await publishPending() > 0 { continue }
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
            _ = try? await publishPending()
            _ = try? await bus.redis.send(DEL(leaseKey))
        }
    }

    /// Takes or renews the publishing lease; false while another relay holds it.
    private func holdLease() async throws -> Bool {
        let ms = leaseTime.components.seconds * 1000 + leaseTime.components.attoseconds / 1_000_000_000_000_000
        return try await bus.redis.eval(Self.lease, keys: [leaseKey], arguments: [RedisArgument(owner), RedisArgument(ms)])
            == .integer(1)
    }

    /// Until the poll interval passes or someone nudges. (A task group racing a sleep against a
    /// continuation stored from a second child lost the wake-up when the sleep finished before the
    /// child had stored its continuation, and then waited forever: the relay, and whatever awaited
    /// it, hung on a loaded machine.)
    private func sleepOrNudge() async {
        await wake.wait(timeout: pollInterval)
    }
}
