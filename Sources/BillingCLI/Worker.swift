import ArgumentParser
import Logging
import Runtime
import ServiceLifecycle

/// `billing worker <service>…`: consumer groups for the named services, plus the outbox relay.
struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run consumers for the named services (and an outbox relay) until SIGTERM.")

    @Argument(help: "Services to consume for.") var services: [String]

    func validate() throws {
        for service in services where !ServiceCatalog.known.contains(service) {
            throw ValidationError(ServiceCatalog.UnknownService(name: service).description)
        }
    }

    func run() async throws {
        let settings = try await loadSettings()
        let logger = Logger(label: "billing.worker")
        let infrastructure = try await Infrastructure.connect(settings: settings, logger: logger)
        let workers = try ServiceCatalog.workers(services, settings: settings, infrastructure: infrastructure)
        let ready = ReadyAnnouncement(
            logger: logger, message: "worker ready",
            metadata: ["services": "\(services.joined(separator: ","))", "consumers": "\(settings.consumers)"])
        let group = ServiceGroup(
            configuration: .init(
                services: infrastructure.services + workers + [ready], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        logger.info("worker stopped")
    }
}
