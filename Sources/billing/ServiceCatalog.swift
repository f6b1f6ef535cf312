import CustomerService
import Logging
import Messaging
import Mongo
import PlanService
import Redis
import Runtime
import ServiceLifecycle
import TestService

/// Which services this binary can run, and how one is assembled from its handlers.
enum ServiceCatalog {
    /// The services `billing all` runs. The service issues (auth, customer, plan, subscription,
    /// invoice, webhook) add themselves here.
    static let production: [String] = [CustomerService.name, PlanService.name]

    /// `test` is a diagnostic service (echo, insert, refuse, fail, slow): benchmarks and the fault
    /// tests run it; `billing all` does not.
    static let diagnostic = [TestHandlers.name]

    static var known: [String] { production + diagnostic }

    static func registry(for service: String, names: StreamNames) -> HandlerRegistry? {
        switch service {
        case TestHandlers.name: TestHandlers.registry()
        case CustomerService.name: CustomerService.registry(CustomerService.Options(names: names))
        case PlanService.name: PlanService.registry()
        default: nil
        }
    }

    static func names(_ settings: BillingSettings) -> StreamNames { StreamNames(prefix: settings.streamPrefix) }

    static func consumerSettings(_ settings: BillingSettings) -> ConsumerSettings {
        var consumer = ConsumerSettings()
        consumer.consumers = settings.consumers
        consumer.batchSize = settings.batchSize
        consumer.claimMinIdle = .milliseconds(settings.claimIdleMilliseconds)
        consumer.claimInterval = .milliseconds(settings.claimIntervalMilliseconds)
        consumer.maxDeliveries = settings.maxDeliveries
        return consumer
    }

    static func processor(_ service: String, names: StreamNames, infrastructure: Infrastructure) throws
        -> CommandProcessor
    {
        guard let registry = registry(for: service, names: names) else {
            throw UnknownService(name: service)
        }
        return CommandProcessor(
            group: service, registry: registry, database: infrastructure.mongo.database(infrastructure.databaseName),
            redis: infrastructure.redis, logger: Logger(label: "billing.\(service)"))
    }

    /// A consumer group runner per service, and one outbox relay for the process.
    static func workers(_ services: [String], settings: BillingSettings, infrastructure: Infrastructure) throws
        -> [any Service]
    {
        let names = names(settings)
        var result: [any Service] = []
        for service in services {
            result.append(
                ConsumerGroupRunner(
                    service: service, processor: try processor(service, names: names, infrastructure: infrastructure),
                    redis: infrastructure.redis, names: names, settings: consumerSettings(settings),
                    logger: Logger(label: "billing.consumer")))
        }
        result.append(
            OutboxRelay(
                database: infrastructure.mongo.database(infrastructure.databaseName),
                bus: CommandBus(redis: infrastructure.redis, names: names)))
        return result
    }

    struct UnknownService: Error, CustomStringConvertible {
        var name: String
        var description: String {
            "unknown service '\(name)'; this build has: \(ServiceCatalog.known.joined(separator: ", "))"
        }
    }
}
