import Foundation

/// The stream keys of DESIGN §3, under one prefix (`billing` in production; tests use their own).
public struct StreamNames: Sendable, Hashable {
    public var prefix: String

    public init(prefix: String = "billing") { self.prefix = prefix }

    /// `billing:cmd:<service>`, read by consumer group `<service>`.
    public func commands(_ service: String) -> String { "\(prefix):cmd:\(service)" }
    /// `billing:reply:<instance>`, read by one gateway instance.
    public func replies(_ instance: String) -> String { "\(prefix):reply:\(instance)" }
    /// `billing:events`, written by the outbox relay.
    public var events: String { "\(prefix):events" }
    /// `billing:dlq:<service>`, dead letters of one service.
    public func deadLetters(_ service: String) -> String { "\(prefix):dlq:\(service)" }
    /// Hash of the last error per pending entry of a service, so whoever dead-letters it can say why.
    public func lastErrors(_ service: String) -> String { "\(prefix):errors:\(service)" }
    /// `billing:sessions:<host-pid>`, the MongoDB sessions a process's transactions use (``SessionFence``).
    public func sessions(_ process: String) -> String { "\(prefix):sessions:\(process)" }

    /// This process's name, host-pid (the host's first label): the prefix of its consumers' names
    /// (host-pid-n) and of its reply-router instance name.
    public static var processName: String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        return "\(host)-\(getpid())"
    }

    /// The process a consumer named host-pid-n belongs to.
    public static func process(ofConsumer consumer: String) -> String {
        guard let dash = consumer.lastIndex(of: "-") else { return consumer }
        return String(consumer[..<dash])
    }
}

/// How long streams keep entries (DESIGN §3: commands and events at least 7 days, for replay).
public struct StreamRetention: Sendable, Hashable {
    public var commands: Duration
    public var events: Duration
    /// Reply streams are small and expire with their instance.
    public var replyMaxLength: Int
    public var replyStreamTTL: Duration

    public init(
        commands: Duration = .seconds(7 * 86_400), events: Duration = .seconds(7 * 86_400),
        replyMaxLength: Int = 10_000, replyStreamTTL: Duration = .seconds(300)
    ) {
        self.commands = commands
        self.events = events
        self.replyMaxLength = replyMaxLength
        self.replyStreamTTL = replyStreamTTL
    }
}
