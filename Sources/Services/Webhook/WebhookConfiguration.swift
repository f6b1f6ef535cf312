import Crypto
import Foundation
import MessageBus

/// The webhook service's settings.
public struct WebhookConfiguration: Sendable {
    public var names: StreamNames
    /// Seals endpoint signing secrets at rest (AES-GCM); from `BILLING_WEBHOOK_SECRET_KEY`.
    public var secretSealingKey: SymmetricKey
    /// Development mode: `http` URLs to loopback hosts are allowed and destinations are not screened.
    public var development: Bool
    public var retry = RetrySchedule()
    /// One attempt's limit (request and response).
    public var requestTimeout: Duration = .seconds(10)
    /// How long a claimed delivery belongs to the worker that claimed it; past it, another may send it.
    public var lease: Duration = .seconds(30)
    /// How often the dispatcher looks for due deliveries when nothing wakes it.
    public var pollInterval: Duration = .milliseconds(500)
    /// Deliveries in flight at once in one process.
    public var concurrency = 16
    /// Deliveries in flight at once for one tenant, in one process; nil: three quarters of
    /// `concurrency`, so whatever one tenant's endpoints do, a quarter serves the others.
    public var concurrencyPerTenant: Int?
    /// Deliveries in flight at once to one endpoint that is slow or not yet heard from, in one
    /// process: an endpoint that hangs holds at most these slots. One whose last attempt took less
    /// than `slowAttempt` may use its tenant's whole share.
    public var concurrencyPerEndpoint = 4
    public var slowAttempt: Duration = .seconds(1)
    /// Webhook endpoints one tenant may have, disabled ones included (Stripe allows 16 per account).
    public var maxEndpointsPerTenant = 16
    /// How long stored events are kept (the Events API, redelivery): 30 days, as Stripe's.
    public var eventRetention: Duration = .seconds(30 * 86_400)
    /// How often events past the retention are deleted.
    public var retentionInterval: Duration = .seconds(3_600)
    /// How often the metric gauges (retries pending, disabled endpoints) are sampled.
    public var gaugeInterval: Duration = .seconds(15)
    /// The services whose streams and dead letters the admin routes show (this worker serves them).
    public var adminServices = ["auth", "customer", "plan", "subscription", "invoice", "webhook"]
    /// The streams' capacity and retention (the admin retry route respects the capacity).
    public var streams = StreamRetention()

    public init(names: StreamNames, secretSealingKey: SymmetricKey, development: Bool) {
        self.names = names
        self.secretSealingKey = secretSealingKey
        self.development = development
    }

    /// The dispatcher's slots and each tenant's and endpoint's share of them.
    var slotLimits: DeliverySlots.Limits {
        DeliverySlots.Limits(
            total: concurrency, perTenant: concurrencyPerTenant ?? max(1, concurrency * 3 / 4),
            perEndpoint: concurrencyPerEndpoint, slowAttempt: slowAttempt)
    }

    /// The key development mode uses when none is configured (never in production mode).
    public static let developmentSealingKey = SymmetricKey(data: SHA256.hash(data: Data("billing-dev-webhook-secrets".utf8)))

    /// A configured key: base64 of 32 bytes, or nil.
    public static func sealingKey(base64 text: String) -> SymmetricKey? {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespaces)), data.count == 32 else {
            return nil
        }
        return SymmetricKey(data: data)
    }
}

/// When failed deliveries are tried again: exponential backoff with jitter, inside a window
/// counted from the first attempt (3 days by default); what is still failing at its end has failed.
public struct RetrySchedule: Sendable, Hashable {
    public var initialDelay: Duration = .seconds(30)
    public var factor: Double = 2
    public var maxDelay: Duration = .seconds(6 * 3600)
    /// Each delay is scattered by up to this fraction either way, so retries of many endpoints spread out.
    public var jitter: Double = 0.2
    public var window: Duration = .seconds(3 * 86_400)

    public init() {}

    public init(initialDelay: Duration, factor: Double = 2, maxDelay: Duration, jitter: Double = 0.2, window: Duration) {
        self.initialDelay = initialDelay
        self.factor = factor
        self.maxDelay = maxDelay
        self.jitter = jitter
        self.window = window
    }

    /// The time of the next attempt after `attempts` failed ones, or nil when it would fall past the
    /// window that began at `firstAttempt`.
    public func nextAttempt(after attempts: Int, firstAttempt: Date, now: Date, random: Double = Double.random(in: -1...1))
        -> Date?
    {
        let base = Self.seconds(initialDelay) * pow(factor, Double(max(0, attempts - 1)))
        let delay = min(base, Self.seconds(maxDelay)) * (1 + jitter * random)
        let next = now.addingTimeInterval(max(0.001, delay))
        let end = firstAttempt.addingTimeInterval(Self.seconds(window))
        if next <= end { return next }
        // One last try exactly at the end of the window, unless that has come already.
        return now < end ? end : nil
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
