import AuthService
import BillingDomain
import BillingService
import Crypto
import CustomerService
import Foundation
import Gateway
import Logging
import MessageBus
import WorkerRuntime
import Mongo
import PlanService
import Redis
import Runtime
import ServiceLifecycle
import Synchronization
import WebhookService

/// Which services this binary can run, and how one is assembled from its handlers.
public enum ServiceCatalog {
    /// The services `billing all` runs. The service issues (auth, customer, plan, subscription,
    /// invoice, webhook) add themselves here.
    static let production: [String] = [
        AuthService.name, CustomerService.name, PlanService.name, SubscriptionService.name, InvoiceService.name,
        WebhookService.name,
    ]

    /// Services a development build adds (`billing-bench` adds the diagnostic `test` service) and
    /// the gateway routes that reach them; the shipped `billing` registers none.
    private static let extra = Mutex<[String: @Sendable () -> HandlerRegistry]>([:])
    private static let extraRoutes = Mutex<[GatewayRoute]>([])

    /// Makes `name` runnable by `worker`, known to `streams`, and served by the gateway on `routes`
    /// (development mode only) in this process.
    public static func register(
        _ name: String, routes: [GatewayRoute] = [], _ registry: @escaping @Sendable () -> HandlerRegistry
    ) {
        extra.withLock { $0[name] = registry }
        extraRoutes.withLock { $0 += routes }
    }

    static var known: [String] { production + extra.withLock { $0.keys.sorted() } }

    /// The gateway's routes: the standard table and those of registered development services.
    static var routes: RouteTable {
        var table = RouteTable.standard
        for route in extraRoutes.withLock({ $0 }) { table.add(route) }
        return table
    }

    /// The services whose consumers the gateway's readiness requires.
    static var required: [String] {
        production + Set(extraRoutes.withLock { $0.map(\.service) }).sorted()
    }

    static var hasDevelopmentRoutes: Bool { !extraRoutes.withLock { $0.isEmpty } }

    static func registry(for service: String, settings: BillingSettings, infrastructure: Infrastructure) throws
        -> HandlerRegistry?
    {
        if let extra = extra.withLock({ $0[service] }) { return extra() }
        return switch service {
        case AuthService.name: try auth(settings, infrastructure: infrastructure).registry()
        case CustomerService.name: CustomerService.registry(CustomerService.Options(names: names(settings)))
        case PlanService.name: PlanService.registry()
        case SubscriptionService.name: SubscriptionService.registry(try engine(settings))
        case InvoiceService.name: InvoiceService.registry(try engine(settings))
        case WebhookService.name: try WebhookService(configuration: webhookConfiguration(settings)).registry()
        default: nil
        }
    }

    /// Long-lived companions a service needs besides its consumers.
    static func companions(for service: String, settings: BillingSettings, infrastructure: Infrastructure) throws
        -> [any Service]
    {
        switch service {
        case AuthService.name:
            let auth = try auth(settings, infrastructure: infrastructure)
            let names = names(settings)
            var consumer = consumerSettings(settings)
            consumer.publishesReplies = false
            let events = CommandProcessor(
                group: AuthService.eventGroup, registry: auth.eventRegistry(), database: database(infrastructure),
                redis: infrastructure.redis, logger: Logger(label: "billing.auth"))
            return [
                AuthPublisher(service: auth, database: database(infrastructure), redis: infrastructure.redis),
                ConsumerGroupRunner(
                    stream: names.events, group: AuthService.eventGroup,
                    deadLetterStream: names.deadLetters(AuthService.eventGroup), processor: events,
                    redis: infrastructure.redis, names: names, settings: consumer, retention: settings.streamRetention,
                    logger: Logger(label: "billing.consumer")),
            ]
        case WebhookService.name:
            // The event consumer (group `webhook` on billing:events) and the delivery dispatcher
            // share one service, so a fan-out wakes the dispatcher at once.
            let webhook = WebhookService(configuration: try webhookConfiguration(settings))
            let names = names(settings)
            var consumer = consumerSettings(settings)
            consumer.publishesReplies = false
            let processor = CommandProcessor(
                group: WebhookService.eventLedger, registry: webhook.eventRegistry(), database: database(infrastructure),
                redis: infrastructure.redis, logger: Logger(label: "billing.webhook"))
            return [
                ConsumerGroupRunner(
                    stream: names.events, group: WebhookService.eventGroup,
                    deadLetterStream: names.deadLetters(WebhookService.eventLedger), processor: processor,
                    redis: infrastructure.redis, names: names, settings: consumer, retention: settings.streamRetention,
                    logger: Logger(label: "billing.consumer")),
                WebhookDispatcher(
                    service: webhook, database: database(infrastructure),
                    bus: CommandBus(redis: infrastructure.redis, names: names, retention: settings.streamRetention)),
                EventRetention(configuration: webhook.configuration, database: database(infrastructure)),
            ]
        default: return []
        }
    }

    /// The billing rules with the configured dunning and the sandbox payment provider.
    static func engine(_ settings: BillingSettings) throws -> BillingEngine {
        do {
            let dunning = try DunningPolicy(
                retryAfterDays: settings.dunningRetryDays,
                whenExhausted: settings.dunningExhausted == "canceled" ? .canceled : .unpaid,
                markInvoiceUncollectible: settings.dunningMarkUncollectible)
            var engine = BillingEngine(provider: SandboxPaymentProvider(), dunning: dunning)
            engine.customersMayPause = settings.customersMayPause
            return engine
        } catch {
            throw BillingSettings.Invalid(variable: "BILLING_DUNNING_RETRY_DAYS", reason: "\(error)")
        }
    }

    /// The scheduler of the real billing clock.
    static func scheduler(_ settings: BillingSettings, infrastructure: Infrastructure) throws -> BillingScheduler {
        BillingScheduler(
            engine: try engine(settings), database: database(infrastructure),
            bus: CommandBus(redis: infrastructure.redis, names: names(settings), retention: settings.streamRetention),
            interval: .milliseconds(settings.schedulerIntervalMilliseconds))
    }

    static func database(_ infrastructure: Infrastructure) -> MongoDatabase {
        infrastructure.mongo.database(infrastructure.databaseName)
    }

    package static func auth(_ settings: BillingSettings, infrastructure: Infrastructure) throws -> AuthService {
        AuthService(
            configuration: try authConfiguration(settings), database: database(infrastructure),
            redis: infrastructure.redis)
    }

    /// The auth service's settings; in production the key that seals signing keys must be configured.
    static func authConfiguration(_ settings: BillingSettings) throws -> AuthConfiguration {
        let sealingKey: SymmetricKey
        if let configured = AuthConfiguration.keyEncryptionKey(base64: settings.authKeyEncryptionKey) {
            sealingKey = configured
        } else if settings.mode == .development {
            sealingKey = AuthConfiguration.developmentKeyEncryptionKey
        } else {
            throw BillingSettings.Invalid(
                variable: "BILLING_AUTH_KEY_ENCRYPTION_KEY",
                reason: "required in production mode (base64 of 32 random bytes: openssl rand -base64 32)")
        }
        var configuration = AuthConfiguration(names: names(settings), keyEncryptionKey: sealingKey)
        configuration.issuer = settings.jwtIssuer
        configuration.audience = settings.jwtAudience
        configuration.accessTokenTTL = TimeInterval(settings.accessTokenTTLSeconds)
        configuration.hasher = PasswordHasher(logN: settings.scryptLogN)
        return configuration
    }

    /// The webhook service's settings; in production the key that seals signing secrets must be configured.
    static func webhookConfiguration(_ settings: BillingSettings) throws -> WebhookConfiguration {
        let sealingKey: SymmetricKey
        if let configured = WebhookConfiguration.sealingKey(base64: settings.webhookSecretKey) {
            sealingKey = configured
        } else if settings.mode == .development {
            sealingKey = WebhookConfiguration.developmentSealingKey
        } else {
            throw BillingSettings.Invalid(
                variable: "BILLING_WEBHOOK_SECRET_KEY",
                reason: "required in production mode (base64 of 32 random bytes: openssl rand -base64 32)")
        }
        var configuration = WebhookConfiguration(
            names: names(settings), secretSealingKey: sealingKey, development: settings.mode == .development)
        configuration.retry = RetrySchedule(
            initialDelay: .milliseconds(settings.webhookRetryInitialMilliseconds),
            maxDelay: .milliseconds(settings.webhookRetryMaxMilliseconds),
            window: .seconds(settings.webhookRetryWindowSeconds))
        configuration.lease = .milliseconds(settings.webhookLeaseMilliseconds)
        configuration.pollInterval = .milliseconds(settings.webhookPollMilliseconds)
        configuration.maxEndpointsPerTenant = settings.webhookMaxEndpointsPerTenant
        configuration.eventRetention = .seconds(settings.eventsRetentionDays * 86_400)
        configuration.adminServices = production
        configuration.streams = settings.streamRetention
        return configuration
    }

    static func names(_ settings: BillingSettings) -> StreamNames { StreamNames(prefix: settings.streamPrefix) }

    static func consumerSettings(_ settings: BillingSettings) -> ConsumerSettings {
        var consumer = ConsumerSettings()
        consumer.consumers = settings.consumers
        consumer.batchSize = settings.batchSize
        consumer.claimMinIdle = .milliseconds(settings.claimIdleMilliseconds)
        consumer.claimInterval = .milliseconds(settings.claimIntervalMilliseconds)
        consumer.heartbeatInterval = .milliseconds(settings.heartbeatIntervalMilliseconds)
        consumer.maxDeliveries = settings.maxDeliveries
        return consumer
    }

    static func processor(_ service: String, settings: BillingSettings, infrastructure: Infrastructure) throws
        -> CommandProcessor
    {
        guard let registry = try registry(for: service, settings: settings, infrastructure: infrastructure) else {
            throw UnknownService(name: service)
        }
        var processor = CommandProcessor(
            group: service, registry: registry, database: infrastructure.mongo.database(infrastructure.databaseName),
            redis: infrastructure.redis, logger: Logger(label: "billing.\(service)"))
        // Services whose answers hold secrets shown once keep them sealed in the ledger until published.
        switch service {
        case AuthService.name: processor.sealer = ReplySealer(deriving: try authConfiguration(settings).keyEncryptionKey)
        case WebhookService.name: processor.sealer = ReplySealer(deriving: try webhookConfiguration(settings).secretSealingKey)
        default: break
        }
        return processor
    }

    /// A consumer group runner per service, one outbox relay for the process, and one janitor for
    /// the streams its services consume and their dead letters.
    static func workers(_ services: [String], settings: BillingSettings, infrastructure: Infrastructure) throws
        -> [any Service]
    {
        let names = names(settings)
        var result: [any Service] = []
        let retention = settings.streamRetention
        var streams: [(name: String, keeping: Duration)] = []
        var deadLetters = [names.deadLetters("outbox")]
        for service in services {
            result.append(
                ConsumerGroupRunner(
                    service: service, processor: try processor(service, settings: settings, infrastructure: infrastructure),
                    redis: infrastructure.redis, names: names, settings: consumerSettings(settings),
                    retention: settings.streamRetention, logger: Logger(label: "billing.consumer")))
            result += try companions(for: service, settings: settings, infrastructure: infrastructure)
            streams.append((names.commands(service), retention.commands))
            deadLetters.append(names.deadLetters(service))
            if let eventGroup = eventDeadLetterGroups[service] {
                if !streams.contains(where: { $0.name == names.events }) { streams.append((names.events, retention.events)) }
                deadLetters.append(names.deadLetters(eventGroup))
            }
        }
        let bus = CommandBus(redis: infrastructure.redis, names: names, retention: settings.streamRetention)
        result.append(OutboxRelay(database: infrastructure.mongo.database(infrastructure.databaseName), bus: bus))
        result.append(
            StreamJanitor(
                redis: infrastructure.redis, streams: streams, deadLetterStreams: deadLetters, retention: retention))
        return result
    }

    /// Services that also consume `billing:events`, and the name of that consumer's dead letters.
    static let eventDeadLetterGroups = [
        AuthService.name: AuthService.eventGroup, WebhookService.name: WebhookService.eventLedger,
    ]

    struct UnknownService: Error, CustomStringConvertible {
        var name: String
        var description: String {
            "unknown service '\(name)'; this build has: \(ServiceCatalog.known.joined(separator: ", "))"
        }
    }
}
