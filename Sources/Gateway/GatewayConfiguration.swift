import Foundation
import MessageBus

/// Everything the edge needs to know that is not a route: limits, waits, CORS, token checks.
public struct GatewayConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// Key prefix and stream names shared with the workers.
    public var names: StreamNames = StreamNames()
    /// The command streams' capacity (a full stream answers 503 `backlog_full`).
    public var streams: StreamRetention = StreamRetention()
    /// How long a request waits for its reply before answering 202 (`Prefer: wait=N` overrides, up to `maxWait`).
    public var defaultWait: Duration = .seconds(5)
    public var maxWait: Duration = .seconds(30)
    /// `Retry-After` (seconds) on a 202.
    public var retryAfterSeconds: Int = 1
    /// Origins that may call the API from a browser (exact match, e.g. `https://app.example.com`).
    public var corsAllowedOrigins: [String] = []
    public var corsMaxAgeSeconds: Int = 600
    /// Largest request body accepted (413 above).
    public var bodyLimit: Int = 1 << 20
    /// JWT `iss` and `aud` the gateway accepts.
    public var issuer: String = "billing"
    public var audience: String = "billing-api"
    /// Allowed clock skew for `exp`/`nbf`.
    public var clockSkew: TimeInterval = 30
    /// How long the JWKS read from Redis is trusted before it is read again.
    public var jwksCacheTTL: Duration = .seconds(60)
    /// Rate-limit tiers (requests/s sustained, and burst).
    public var principalLimit = RateLimitTier(rate: 100, burst: 200)
    public var ipLimit = RateLimitTier(rate: 20, burst: 40)
    public var authLimit = RateLimitTier(rate: 1, burst: 5)
    /// Proxies whose `X-Forwarded-For` names the client (`BILLING_TRUSTED_PROXIES`); none by default,
    /// so the client is the peer that connected.
    public var trustedProxies: TrustedProxies = .none
    /// Consumer groups that must have a live consumer for `/readyz`.
    public var requiredServices: [String] = ["auth", "customer", "plan", "subscription", "invoice", "webhook"]
    /// A group whose processes last beat longer ago than this has no live consumer (`ConsumerHeartbeat`).
    public var consumerLiveness: Duration = .seconds(30)
    /// Idempotency records live this long once the first response is stored.
    public var idempotencyTTL: Duration = .seconds(86_400)
    /// An in-flight idempotency claim lives this long: the longest wait and a few seconds to store
    /// the response. A claim left by a failure frees its key after this, not after a day. (A retry
    /// after that, with the same key, sends the same command ID: the worker's ledger runs it once.)
    public var idempotencyClaimTTL: Duration { maxWait + .seconds(7) }
    /// Pending operation records live this long (same as the workers' operation state).
    public var operationTTL: Duration = .seconds(86_400)
    /// `Strict-Transport-Security` value.
    public var hsts: String = "max-age=63072000; includeSubDomains"

    public init() {}
}

/// A GCRA tier: `rate` requests per second sustained, up to `burst` at once.
public struct RateLimitTier: Sendable, Hashable {
    public var rate: Double
    public var burst: Int

    public init(rate: Double, burst: Int) {
        self.rate = rate
        self.burst = max(1, burst)
    }
}
