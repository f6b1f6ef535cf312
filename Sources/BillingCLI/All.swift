import ArgumentParser
import Logging
import Runtime
import ServiceLifecycle

/// `billing all`: every part in one process, the local default.
struct All: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway, every worker and the scheduler in one process.")

    func run() async throws {
        let settings = try await loadSettings()
        let logger = Logger(label: "billing.all")
        let infrastructure = try await Infrastructure.connect(settings: settings, logger: logger)
        let workers =
            try ServiceCatalog.workers(ServiceCatalog.known, settings: settings, infrastructure: infrastructure)
            + [try ServiceCatalog.scheduler(settings, infrastructure: infrastructure)]
        let edge = try GatewayAssembly.services(
            settings: settings, redis: infrastructure.redis, logger: Logger(label: "billing.gateway"))
        let ready = ReadyAnnouncement(
            logger: logger, message: "ready",
            metadata: [
                "redis": "\(infrastructure.redisDescription)", "mongo": "\(infrastructure.mongoDescription)",
                "mode": "\(settings.mode.rawValue)", "http": "\(settings.httpHost):\(settings.httpPort)",
                "services": "\(ServiceCatalog.known.joined(separator: ","))",
            ])
        let group = ServiceGroup(
            configuration: .init(
                services: infrastructure.services + workers + edge + [ready], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("stopped")
    }
}
