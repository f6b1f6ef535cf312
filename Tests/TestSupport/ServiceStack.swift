import Logging
import ServiceLifecycle
import Synchronization

/// A long-lived service (runner, router, relay, gateway) run in a test the way `billing` runs it: in
/// a `ServiceGroup`, and stopped by ServiceLifecycle's graceful shutdown, the path SIGTERM takes.
/// Never by cancelling its task: a harness that cancelled what it started tested a shutdown no
/// process ever goes through.
public final class RunningService: Sendable {
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    public init(_ service: any Service, logger: Logger = Logger(label: "test.service")) {
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: service)], gracefulShutdownSignals: [], logger: logger))
        self.group = group
        self.task = Task { try await group.run() }
    }

    /// Triggers graceful shutdown and returns once the service has drained and returned.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}

/// What a test harness started, stopped together (last started, first stopped) at its end.
public final class ServiceStack: Sendable {
    private let running = Mutex<[RunningService]>([])
    private let logger: Logger

    public init(logger: Logger = Logger(label: "test.services")) {
        self.logger = logger
    }

    /// Starts `service`; the returned handle stops it alone (the stack's shutdown skips it then).
    @discardableResult
    public func start(_ service: any Service) -> RunningService {
        let handle = RunningService(service, logger: logger)
        running.withLock { $0.append(handle) }
        return handle
    }

    /// Gracefully stops everything still running, in reverse order of start.
    public func shutdown() async {
        let all = running.withLock { list in
            defer { list = [] }
            return list
        }
        for service in all.reversed() { await service.stop() }
    }
}
