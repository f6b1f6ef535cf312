import Logging
import ServiceLifecycle

/// Runs `pass` now and then every `interval` until graceful shutdown (which ends the wait at once:
/// a pass has nothing in flight that must finish). A failed pass is logged as `failure` and the next
/// one runs on time. For services whose work is "do this again every so often".
public func repeatUntilShutdown(
    every interval: Duration, logger: Logger, failure: Logger.Message, _ pass: @escaping @Sendable () async throws -> Void
) async {
    try? await cancelWhenGracefulShutdown {
        while !Task.isCancelled {
            do {
                try await pass()
            } catch {
                logger.warning(failure, metadata: ["error": "\(error)"])
            }
            try await Task.sleep(for: interval)
        }
    }
}
