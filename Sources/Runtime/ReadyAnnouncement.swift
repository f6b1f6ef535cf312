import Logging
import ServiceLifecycle

/// Logs the process's "ready" line from inside its `ServiceGroup`, so that by the time anyone reads
/// it the group's SIGTERM/SIGINT handling is installed (a signal before then would kill the process
/// abruptly instead of shutting it down gracefully). Then waits for the graceful shutdown.
public struct ReadyAnnouncement: Service {
    let logger: Logger
    let message: Logger.Message
    let metadata: Logger.Metadata

    public init(logger: Logger, message: Logger.Message, metadata: Logger.Metadata) {
        self.logger = logger
        self.message = message
        self.metadata = metadata
    }

    public func run() async throws {
        logger.info(message, metadata: metadata)
        try? await gracefulShutdown()
    }
}
