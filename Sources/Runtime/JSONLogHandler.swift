import Foundation
import Logging
import MessageBus

/// Writes one JSON object per line to standard error: time, level, logger, message and metadata.
/// Secrets are kept out by the callers (URLs are redacted before they are logged).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String

    public init(label: String, level: Logger.Level = .info) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        FileHandle.standardError.write(line(event))
    }

    /// One JSON object and a newline: time, level, logger, message, then the metadata (the event's
    /// winning over the handler's).
    func line(_ event: LogEvent, at date: Date = Date()) -> Data {
        var object: [String: JSONValue] = [
            "ts": .string(Self.timestamp(date)), "level": .string(event.level.rawValue), "logger": .string(label),
            "msg": .string("\(event.message)"),
        ]
        for (key, value) in metadata { object[key] = Self.plain(value) }
        for (key, value) in event.metadata ?? [:] { object[key] = Self.plain(value) }
        // The JSONWriter, not JSONSerialization: a request log line per request must stay cheap.
        var data = JSONWriter.data(.object(object))
        data.append(0x0A)
        return data
    }

    static func plain(_ value: Logger.MetadataValue) -> JSONValue {
        switch value {
        case .string(let s): .string(s)
        case .stringConvertible(let c): .string(c.description)
        case .array(let a): .array(a.map(plain))
        case .dictionary(let d): .object(d.mapValues(plain))
        }
    }

    static func timestamp(_ date: Date) -> String { MessageCoding.formatTimestamp(date) }

    public static func bootstrap(level: String) {
        let parsed = Logger.Level(rawValue: level.lowercased()) ?? .info
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: parsed) }
    }
}
