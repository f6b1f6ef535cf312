import Logging
import Mongo
import Redis
import ServiceLifecycle

/// The two servers every process needs, connected and checked before anything else starts.
public struct Infrastructure: Sendable {
    public let redis: RedisClient
    public let mongo: MongoClient
    /// The database named in `BILLING_MONGO_URL` (`billing` unless the URL says otherwise).
    public let databaseName: String
    public let redisDescription: String
    public let mongoDescription: String

    /// A server could not be reached at start; the message names it and says what to check.
    public struct Unreachable: Error, CustomStringConvertible {
        public var description: String
    }

    /// Connects to Redis and MongoDB and pings both; fails fast with a message naming the server.
    public static func connect(settings: BillingSettings, logger: Logger) async throws -> Infrastructure {
        let redisShown = RedisConfiguration.redacted(settings.redisURL)
        let mongoShown = MongoURL.redacted(settings.mongoURL)
        let redis = try await connectRedis(settings: settings, logger: logger)

        let mongo: MongoClient
        do {
            mongo = try MongoClient(
                url: settings.mongoURL, poolSize: settings.mongoPoolSize, logger: Logger(label: "billing.mongo"))
        } catch {
            await redis.shutdown()
            throw Unreachable(description: "BILLING_MONGO_URL: \(error)")
        }
        do {
            try await mongo.ping()
        } catch {
            await redis.shutdown()
            try? await mongo.shutdown()
            logger.error("mongodb unreachable", metadata: ["url": "\(mongoShown)", "error": "\(error)"])
            throw Unreachable(description: "cannot reach MongoDB at \(mongoShown) (BILLING_MONGO_URL): \(error)")
        }
        return Infrastructure(
            redis: redis, mongo: mongo, databaseName: mongo.defaultDatabaseName ?? "billing",
            redisDescription: redisShown, mongoDescription: mongoShown)
    }

    /// Connects to Redis alone (the gateway needs nothing else) and pings it; fails fast naming it.
    public static func connectRedis(settings: BillingSettings, logger: Logger) async throws -> RedisClient {
        let redisShown = RedisConfiguration.redacted(settings.redisURL)
        var redisConfiguration: RedisConfiguration
        do {
            redisConfiguration = try RedisConfiguration(url: settings.redisURL)
        } catch {
            throw Unreachable(description: "BILLING_REDIS_URL: \(error.message)")
        }
        redisConfiguration.connectionCount = settings.redisConnections
        let redis = RedisClient(configuration: redisConfiguration, logger: Logger(label: "billing.redis"))
        do {
            _ = try await redis.send(PING())
        } catch {
            await redis.shutdown()
            logger.error("redis unreachable", metadata: ["url": "\(redisShown)", "error": "\(error.message)"])
            throw Unreachable(
                description: "cannot reach Redis at \(redisShown) (BILLING_REDIS_URL): \(error.message)")
        }
        return redis
    }

    /// Long-lived pieces for a `ServiceGroup`: each closes its connections on graceful shutdown.
    public var services: [any Service] { [redis, mongo] }

    public func shutdown() async {
        await redis.shutdown()
        try? await mongo.shutdown()
    }
}

/// Small helpers for `mongodb://` URLs that libmongoc does not expose the way we need.
public enum MongoURL {
    /// The database in the URL's path (`mongodb://h1,h2/billing?opts` → `billing`).
    public static func databaseName(_ url: String) -> String? {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        let rest = url[schemeEnd.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        let name = rest[rest.index(after: slash)...].prefix { $0 != "?" }
        return name.isEmpty ? nil : String(name)
    }

    /// The URL with its password replaced by `***`, for logs and errors.
    public static func redacted(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let hostEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        guard let at = rest[..<hostEnd].lastIndex(of: "@") else { return url }
        let credentials = rest[..<at]
        let user = credentials.prefix { $0 != ":" }
        return String(url[..<schemeEnd.upperBound]) + user + ":***" + rest[at...]
    }
}
