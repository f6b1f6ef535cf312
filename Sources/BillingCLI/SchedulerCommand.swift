import ArgumentParser
import Logging
import Runtime
import ServiceLifecycle

/// `billing scheduler`: the billing clock's driver alone (`billing all` runs it too). Several may
/// run at once: their commands carry the same ids, and workers apply each once.
struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler", abstract: "Send renewals, trial ends, payment retries and period-end cancels when due.")

    func run() async throws {
        let settings = try await loadSettings()
        let logger = Logger(label: "billing.scheduler")
        let infrastructure = try await Infrastructure.connect(settings: settings, logger: logger)
        let scheduler = try ServiceCatalog.scheduler(settings, infrastructure: infrastructure)
        let ready = ReadyAnnouncement(
            logger: logger, message: "scheduler ready",
            metadata: ["interval_ms": "\(settings.schedulerIntervalMilliseconds)"])
        let group = ServiceGroup(
            configuration: .init(
                services: infrastructure.services + [scheduler, ready], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}
