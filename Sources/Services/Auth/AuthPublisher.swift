import BillingDomain
import Foundation
import Logging
import MessageBus
import Mongo
import Redis
import ServiceLifecycle

/// Keeps what the gateway reads from Redis in step with MongoDB: a signing key exists and the JWKS
/// is published (at start, then every `interval`, which also drops retired keys past their
/// window), and every active API key is published, every revoked one withdrawn (so a lost
/// after-commit write, or a flushed Redis, heals by itself).
public struct AuthPublisher: Service {
    let service: AuthService
    let database: MongoDatabase
    let redis: RedisClient
    let clock: any BillingClock
    let interval: Duration
    let logger: Logger

    public init(
        service: AuthService, database: MongoDatabase, redis: RedisClient, interval: Duration = .seconds(60),
        clock: any BillingClock = SystemBillingClock(), logger: Logger = Logger(label: "billing.auth")
    ) {
        self.service = service
        self.database = database
        self.redis = redis
        self.clock = clock
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await repeatUntilShutdown(every: interval, logger: logger, failure: "auth keys not published") {
            try await publishOnce()
        }
    }

    /// One pass: signing key and JWKS, then API keys.
    public func publishOnce() async throws {
        try await service.keys.ensureKeyAndPublish(now: clock.now())
        let publisher = APIKeyPublisher(names: service.configuration.names)
        let keys = try await database.collection(AuthCollections.apiKeys, as: APIKeyRecord.self).find([:])
        for key in keys {
            if key.status == "active" {
                try await publisher.publish(key, redis: redis)
            } else {
                try await publisher.withdraw(key, redis: redis)
            }
        }
    }
}
