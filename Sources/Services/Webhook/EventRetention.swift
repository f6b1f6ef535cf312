import Foundation
import Logging
import MessageBus
import Mongo
import ServiceLifecycle

/// Deletes the stored events older than the retention (`BILLING_EVENTS_RETENTION_DAYS`, 30 days by
/// default) on a timer, a batch at a time: the Events API and redelivery then no longer find them,
/// and a delivery still pending for one is canceled when it comes due. A periodic pass rather
/// than a TTL index, so a changed retention applies to the events already stored; time comes from
/// the billing clock, so a test can move past the retention.
public struct EventRetention: Service {
    let database: MongoDatabase
    let retention: Duration
    let interval: Duration
    let clock: any BillingClock
    let logger: Logger
    /// Events deleted per request, so that each stays short however many are past the retention.
    static let batchSize = 500

    public init(
        configuration: WebhookConfiguration, database: MongoDatabase, clock: any BillingClock = SystemBillingClock(),
        logger: Logger = Logger(label: "billing.webhook")
    ) {
        self.database = database
        self.retention = configuration.eventRetention
        self.interval = configuration.retentionInterval
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        await repeatUntilShutdown(every: interval, logger: logger, failure: "events past their retention not deleted") {
            let deleted = try await purge()
            if deleted > 0 { logger.info("events past their retention deleted", metadata: ["deleted": "\(deleted)"]) }
        }
    }

    /// One pass: deletes every event created before now − retention; returns how many went.
    @discardableResult
    public func purge() async throws -> Int {
        let cutoff = clock.now().addingTimeInterval(-RetrySchedule.seconds(retention))
        let events = database.collection(WebhookCollections.events, as: BSONDocument.self)
        let expired: BSONDocument = ["created_at": ["$lt": .datetime(cutoff)]]
        var deleted = 0
        while !Task.isCancelled {
            let ids = try await events.findDocuments(expired, options: FindOptions(limit: Self.batchSize, projection: ["_id": 1]))
                .compactMap { $0["_id"] }
            guard !ids.isEmpty else { break }
            var batch = expired
            batch["_id"] = ["$in": .array(ids)]
            deleted += try await events.deleteMany(batch)
            if ids.count < Self.batchSize { break }
        }
        return deleted
    }
}
