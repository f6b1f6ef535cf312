import Configuration
import Foundation
import MessageBus
import SystemPackage

/// Every `BILLING_*` setting, read once at start. Environment variables win over the optional
/// `.env`-style file named by `BILLING_CONFIG_FILE`.
public struct BillingSettings: Sendable, Equatable {
    public enum Mode: String, Sendable {
        case development, production
    }

    public var mode: Mode
    public var redisURL: String
    public var mongoURL: String
    public var httpHost: String

    /// Whether `host` names this machine only (127.0.0.0/8, ::1, localhost).
    public static func isLoopback(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        if bare == "localhost" || bare == "::1" { return true }
        let parts = bare.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
    public var httpPort: Int
    /// Sustained requests/s per authenticated principal.
    public var rateLimitPrincipal: Int
    /// Sustained requests/s per client IP when unauthenticated.
    public var rateLimitIP: Int
    /// Sustained requests/s per client IP on login, signup, token and refresh.
    public var rateLimitAuth: Int
    public var logLevel: String
    /// Connections in the MongoDB pool, and threads that run its blocking calls.
    public var mongoPoolSize: Int
    /// Pipelined connections the shared Redis client keeps.
    public var redisConnections: Int
    /// Prefix of every stream and key (`billing:cmd:<service>` …); lets environments share a Redis.
    public var streamPrefix: String = "billing"
    /// Consumers per service in one worker process.
    public var consumers: Int = 1
    /// Entries a consumer reads and processes per batch (several commands may share one transaction).
    public var batchSize: Int = 32
    /// Milliseconds an entry may stay pending before a live consumer reclaims it.
    public var claimIdleMilliseconds: Int = 30_000
    /// Milliseconds between checks for idle pending entries.
    public var claimIntervalMilliseconds: Int = 5_000
    /// How often a worker records that it runs its consumer groups (`BILLING_HEARTBEAT_INTERVAL_MS`).
    public var heartbeatIntervalMilliseconds: Int = 5_000
    /// Deliveries after which an entry is dead-lettered.
    public var maxDeliveries: Int = 5
    /// Browser origins the gateway's CORS allows (exact match), from a comma-separated list.
    public var corsOrigins: [String] = []
    /// `BILLING_TRUSTED_PROXIES`: CIDR blocks of the proxies whose `X-Forwarded-For` names the client.
    public var trustedProxies: String = ""
    /// Milliseconds a request waits for its reply before the gateway answers 202.
    public var replyWaitMilliseconds: Int = 5_000
    /// The OpenAPI document the gateway serves and validates against; empty: looked for as
    /// `schemas/openapi.yaml` in the working directory and above the executable.
    public var openAPIFile: String = ""
    /// JWT `iss` and `aud`: the auth service signs with them, the gateway requires them.
    public var jwtIssuer: String = "billing"
    public var jwtAudience: String = "billing-api"
    /// Access-token lifetime in seconds (at most 15 minutes).
    public var accessTokenTTLSeconds: Int = 900
    /// Base64 of 32 bytes sealing the signing keys at rest; required in production mode, a fixed
    /// development key otherwise. Never logged.
    public var authKeyEncryptionKey: String = ""
    /// log2 of scrypt's cost N for password hashes (at least 15).
    public var scryptLogN: Int = 15
    /// Dunning: days after a renewal charge first failed when it is retried.
    public var dunningRetryDays: [Int] = [1, 3, 5, 7]
    /// Dunning: what the subscription becomes after the last retry failed (`unpaid` or `canceled`).
    public var dunningExhausted: String = "unpaid"
    /// Dunning: whether the invoice is then marked uncollectible.
    public var dunningMarkUncollectible: Bool = false
    /// Whether customers may pause and resume their own subscriptions (admins always may).
    public var customersMayPause: Bool = false
    /// Milliseconds between the scheduler's passes over due subscriptions and invoices.
    public var schedulerIntervalMilliseconds: Int = 1_000
    /// Base64 of 32 bytes sealing webhook signing secrets at rest; required in production mode, a
    /// fixed development key otherwise. Never logged.
    public var webhookSecretKey: String = ""
    /// Webhook retries: first delay, longest delay (ms), and the window after the first attempt (s)
    /// past which a delivery has failed (3 days).
    public var webhookRetryInitialMilliseconds: Int = 30_000
    public var webhookRetryMaxMilliseconds: Int = 21_600_000
    public var webhookRetryWindowSeconds: Int = 259_200
    /// How long a worker's claim on a delivery lasts (longer than one attempt's 10 s limit).
    public var webhookLeaseMilliseconds: Int = 30_000
    /// How often the webhook dispatcher looks for due deliveries when nothing wakes it.
    public var webhookPollMilliseconds: Int = 500
    /// Webhook endpoints one tenant may have, disabled ones included (Stripe allows 16).
    public var webhookMaxEndpointsPerTenant: Int = 16
    /// Days the webhook worker keeps events (the Events API, redelivery): 30, as Stripe does.
    public var eventsRetentionDays: Int = 30
    /// Entries a command or event stream may hold, processed and waiting together; a full stream
    /// refuses new requests with 503 `backlog_full` (nothing accepted is ever dropped).
    public var streamMaxEntries: Int = 1_000_000
    /// Processed entries each stream keeps for replay (besides the 7-day limit).
    public var streamRetainedEntries: Int = 100_000
    /// Dead letters are kept this many days, and at most `deadLetterMaxEntries` per stream.
    public var deadLetterRetentionDays: Int = 30
    public var deadLetterMaxEntries: Int = 100_000

    public static let defaults = BillingSettings(
        mode: .development, redisURL: "redis://127.0.0.1:6379", mongoURL: "mongodb://127.0.0.1:27017/billing",
        httpHost: "127.0.0.1", httpPort: 8080, rateLimitPrincipal: 100, rateLimitIP: 20, rateLimitAuth: 1,
        logLevel: "info", mongoPoolSize: 16, redisConnections: 2)

    /// What the streams keep and hold at the most (``StreamRetention``).
    public var streamRetention: StreamRetention {
        StreamRetention(
            retainedEntries: streamRetainedEntries, maxEntries: streamMaxEntries,
            deadLetters: .seconds(deadLetterRetentionDays * 86_400), deadLetterMaxEntries: deadLetterMaxEntries)
    }

    /// A setting that could not be used, named by its environment variable.
    public struct Invalid: Error, CustomStringConvertible {
        public var variable: String
        public var reason: String
        public var description: String { "\(variable): \(reason)" }

        public init(variable: String, reason: String) {
            self.variable = variable
            self.reason = reason
        }
    }

    /// Reads the process environment (and `BILLING_CONFIG_FILE`, if set).
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) async throws
        -> BillingSettings
    {
        var providers: [any ConfigProvider] = [EnvironmentVariablesProvider(environmentVariables: environment)]
        if let file = environment["BILLING_CONFIG_FILE"], !file.isEmpty {
            do {
                providers.append(try await EnvironmentVariablesProvider(environmentFilePath: FilePath(file)))
            } catch {
                throw Invalid(variable: "BILLING_CONFIG_FILE", reason: "cannot read '\(file)': \(error)")
            }
        }
        return try BillingSettings(reader: ConfigReader(providers: providers))
    }

    init(reader: ConfigReader) throws {
        let d = Self.defaults
        func string(_ key: String, _ fallback: String, secret: Bool = false) -> String {
            reader.string(forKey: ConfigKey("billing.\(key)"), isSecret: secret, default: fallback)
        }
        func int(_ key: String, _ fallback: Int, range: ClosedRange<Int>) throws -> Int {
            let variable = "BILLING_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
            guard let text = reader.string(forKey: ConfigKey("billing.\(key)")) else { return fallback }
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
                throw Invalid(variable: variable, reason: "expected a whole number in \(range), got '\(text)'")
            }
            return value
        }
        let modeText = string("mode", d.mode.rawValue)
        guard let mode = Mode(rawValue: modeText) else {
            throw Invalid(variable: "BILLING_MODE", reason: "expected development or production, got '\(modeText)'")
        }
        self.mode = mode
        self.redisURL = string("redis.url", d.redisURL, secret: true)
        self.mongoURL = string("mongo.url", d.mongoURL, secret: true)
        self.httpHost = string("http.host", d.httpHost)
        // Development mode has fixed, public sealing keys and lets webhooks reach loopback: it must
        // never listen where another machine can reach it.
        if mode == .development, !Self.isLoopback(httpHost) {
            throw Invalid(
                variable: "BILLING_HTTP_HOST",
                reason: "'\(httpHost)' is not a loopback address; development mode listens on 127.0.0.1, ::1 or localhost only "
                    + "(set BILLING_MODE=production, with its keys, to listen elsewhere)")
        }
        self.httpPort = try int("http.port", d.httpPort, range: 0...65535)
        self.rateLimitPrincipal = try int("rate.limit.principal", d.rateLimitPrincipal, range: 1...1_000_000)
        self.rateLimitIP = try int("rate.limit.ip", d.rateLimitIP, range: 1...1_000_000)
        self.rateLimitAuth = try int("rate.limit.auth", d.rateLimitAuth, range: 1...1_000_000)
        self.logLevel = string("log.level", d.logLevel)
        self.mongoPoolSize = try int("mongo.pool.size", d.mongoPoolSize, range: 1...1000)
        self.redisConnections = try int("redis.connections", d.redisConnections, range: 1...64)
        let prefix = string("stream.prefix", d.streamPrefix)
        guard prefix.wholeMatch(of: /[A-Za-z0-9_.\-{}]{1,64}/) != nil else {
            throw Invalid(variable: "BILLING_STREAM_PREFIX", reason: "use 1–64 letters, digits, '_', '-', '.', '{', '}'; got '\(prefix)'")
        }
        self.streamPrefix = prefix
        self.consumers = try int("consumers", d.consumers, range: 1...64)
        self.batchSize = try int("batch.size", d.batchSize, range: 1...1000)
        self.claimIdleMilliseconds = try int("claim.idle.ms", d.claimIdleMilliseconds, range: 10...86_400_000)
        self.claimIntervalMilliseconds = try int("claim.interval.ms", d.claimIntervalMilliseconds, range: 10...3_600_000)
        self.heartbeatIntervalMilliseconds = try int(
            "heartbeat.interval.ms", d.heartbeatIntervalMilliseconds, range: 10...60_000)
        self.maxDeliveries = try int("max.deliveries", d.maxDeliveries, range: 1...1000)
        let origins = string("cors.origins", "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        for origin in origins where origin.wholeMatch(of: /https?:\/\/[A-Za-z0-9.\-]+(:[0-9]{1,5})?/) == nil {
            throw Invalid(variable: "BILLING_CORS_ORIGINS", reason: "expected scheme://host[:port] origins, got '\(origin)'")
        }
        self.corsOrigins = origins
        self.trustedProxies = string("trusted.proxies", "")
        self.replyWaitMilliseconds = try int("reply.wait.ms", d.replyWaitMilliseconds, range: 0...30_000)
        self.openAPIFile = string("openapi.file", d.openAPIFile)
        self.jwtIssuer = string("jwt.issuer", d.jwtIssuer)
        self.jwtAudience = string("jwt.audience", d.jwtAudience)
        self.accessTokenTTLSeconds = try int("access.token.ttl.seconds", d.accessTokenTTLSeconds, range: 30...900)
        self.scryptLogN = try int("scrypt.log.n", d.scryptLogN, range: 15...22)
        let sealingKey = string("auth.key.encryption.key", "", secret: true)
        if !sealingKey.isEmpty,
            Data(base64Encoded: sealingKey.trimmingCharacters(in: .whitespaces)).map({ $0.count == 32 }) != true
        {
            throw Invalid(variable: "BILLING_AUTH_KEY_ENCRYPTION_KEY", reason: "expected base64 of 32 random bytes (openssl rand -base64 32)")
        }
        self.authKeyEncryptionKey = sealingKey
        let retryText = string("dunning.retry.days", "1,3,5,7")
        let retryDays = retryText.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard retryDays.allSatisfy({ $0 != nil && (1...3650).contains($0!) }),
            zip(retryDays, retryDays.dropFirst()).allSatisfy({ $0! < $1! })
        else {
            throw Invalid(variable: "BILLING_DUNNING_RETRY_DAYS", reason: "expected increasing whole days such as 1,3,5,7, got '\(retryText)'")
        }
        self.dunningRetryDays = retryDays.compactMap { $0 }
        let exhausted = string("dunning.exhausted", "unpaid")
        guard ["unpaid", "canceled"].contains(exhausted) else {
            throw Invalid(variable: "BILLING_DUNNING_EXHAUSTED", reason: "expected unpaid or canceled, got '\(exhausted)'")
        }
        self.dunningExhausted = exhausted
        let uncollectible = string("dunning.mark.uncollectible", "false")
        guard ["true", "false"].contains(uncollectible) else {
            throw Invalid(variable: "BILLING_DUNNING_MARK_UNCOLLECTIBLE", reason: "expected true or false, got '\(uncollectible)'")
        }
        self.dunningMarkUncollectible = uncollectible == "true"
        let pause = string("customers.may.pause", "false")
        guard ["true", "false"].contains(pause) else {
            throw Invalid(variable: "BILLING_CUSTOMERS_MAY_PAUSE", reason: "expected true or false, got '\(pause)'")
        }
        self.customersMayPause = pause == "true"
        self.schedulerIntervalMilliseconds = try int("scheduler.interval.ms", d.schedulerIntervalMilliseconds, range: 10...3_600_000)
        let webhookKey = string("webhook.secret.key", "", secret: true)
        if !webhookKey.isEmpty,
            Data(base64Encoded: webhookKey.trimmingCharacters(in: .whitespaces)).map({ $0.count == 32 }) != true
        {
            throw Invalid(variable: "BILLING_WEBHOOK_SECRET_KEY", reason: "expected base64 of 32 random bytes (openssl rand -base64 32)")
        }
        self.webhookSecretKey = webhookKey
        self.webhookRetryInitialMilliseconds = try int(
            "webhook.retry.initial.ms", d.webhookRetryInitialMilliseconds, range: 10...86_400_000)
        self.webhookRetryMaxMilliseconds = try int("webhook.retry.max.ms", d.webhookRetryMaxMilliseconds, range: 10...86_400_000)
        self.webhookRetryWindowSeconds = try int(
            "webhook.retry.window.seconds", d.webhookRetryWindowSeconds, range: 1...30 * 86_400)
        self.webhookLeaseMilliseconds = try int("webhook.lease.ms", d.webhookLeaseMilliseconds, range: 1_000...600_000)
        self.webhookPollMilliseconds = try int("webhook.poll.ms", d.webhookPollMilliseconds, range: 10...60_000)
        self.webhookMaxEndpointsPerTenant = try int(
            "webhook.max.endpoints.per.tenant", d.webhookMaxEndpointsPerTenant, range: 1...1_000)
        self.eventsRetentionDays = try int("events.retention.days", d.eventsRetentionDays, range: 1...3_650)
        self.streamMaxEntries = try int("stream.max.entries", d.streamMaxEntries, range: 1_000...100_000_000)
        self.streamRetainedEntries = try int(
            "stream.retained.entries", d.streamRetainedEntries, range: 0...(streamMaxEntries / 2))
        self.deadLetterRetentionDays = try int("dlq.retention.days", d.deadLetterRetentionDays, range: 1...3_650)
        self.deadLetterMaxEntries = try int("dlq.max.entries", d.deadLetterMaxEntries, range: 100...10_000_000)
    }

    init(
        mode: Mode, redisURL: String, mongoURL: String, httpHost: String, httpPort: Int, rateLimitPrincipal: Int,
        rateLimitIP: Int, rateLimitAuth: Int, logLevel: String, mongoPoolSize: Int, redisConnections: Int
    ) {
        self.mode = mode
        self.redisURL = redisURL
        self.mongoURL = mongoURL
        self.httpHost = httpHost
        self.httpPort = httpPort
        self.rateLimitPrincipal = rateLimitPrincipal
        self.rateLimitIP = rateLimitIP
        self.rateLimitAuth = rateLimitAuth
        self.logLevel = logLevel
        self.mongoPoolSize = mongoPoolSize
        self.redisConnections = redisConnections
    }
}
