import CMongoc
import Logging

/// Process-wide libmongoc set-up: `mongoc_init()` exactly once and its log messages routed to swift-log.
enum MongocLibrary {
    /// A static `let` is initialised once, thread-safely, on first use (swift_once).
    private static let initialized: Void = {
        mongoc_log_set_handler(mongocLogHandler, nil)
        mongoc_init()
    }()

    static func ensureInitialized() { _ = initialized }

    static let logger = Logger(label: "mongoc")
}

/// libmongoc calls this from any of its threads; it only formats and forwards.
private func mongocLogHandler(
    level: mongoc_log_level_t, domain: UnsafePointer<CChar>?, message: UnsafePointer<CChar>?,
    userData: UnsafeMutableRawPointer?
) {
    let swiftLevel: Logger.Level
    switch level {
    case MONGOC_LOG_LEVEL_ERROR: swiftLevel = .error
    case MONGOC_LOG_LEVEL_CRITICAL: swiftLevel = .critical
    case MONGOC_LOG_LEVEL_WARNING: swiftLevel = .warning
    case MONGOC_LOG_LEVEL_MESSAGE: swiftLevel = .notice
    case MONGOC_LOG_LEVEL_INFO: swiftLevel = .info
    case MONGOC_LOG_LEVEL_DEBUG: swiftLevel = .debug
    default: swiftLevel = .trace
    }
    let domainText = domain.map { String(cString: $0) } ?? "mongoc"
    let text = message.map { String(cString: $0) } ?? ""
    // After a write conflict the server has already ended the transaction; the client-side abort that
    // resets libmongoc's state then fails harmlessly, and libmongoc would report it as a warning.
    let level = text.hasPrefix("Error in abortTransaction") ? .debug : swiftLevel
    MongocLibrary.logger.log(level: level, "\(text)", metadata: ["mongoc.domain": "\(domainText)"])
}
