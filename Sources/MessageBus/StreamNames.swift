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
    /// `billing:op:{<id>}`, an operation's state (the `{id}` tag keeps its companion keys, such as
    /// the 202 marker, in its hash slot).
    public func operation(_ id: String) -> String { "\(prefix):op:{\(id)}" }
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

/// How much the streams keep (DESIGN §3: commands and events at least 7 days, for replay).
///
/// Entries not yet processed by every group are never trimmed: ``StreamJanitor`` trims only what
/// each group has acknowledged, oldest first, once it is older than `commands`/`events` or beyond
/// `retainedEntries`. A stream holding `maxEntries` refuses new entries instead (the gateway answers
/// 503 and sends nothing, the outbox keeps its events and commands until there is room): accepted
/// work is never dropped to make room.
public struct StreamRetention: Sendable, Hashable {
    public var commands: Duration
    public var events: Duration
    /// Processed entries kept for replay, per stream, at the most.
    public var retainedEntries: Int
    /// Entries a command or event stream may hold (processed history and backlog together).
    public var maxEntries: Int
    /// Dead letters are kept this long, and at most `deadLetterMaxEntries` per stream.
    public var deadLetters: Duration
    public var deadLetterMaxEntries: Int
    /// Reply streams are small and expire with their instance.
    public var replyMaxLength: Int
    public var replyStreamTTL: Duration

    public init(
        commands: Duration = .seconds(7 * 86_400), events: Duration = .seconds(7 * 86_400),
        retainedEntries: Int = 100_000, maxEntries: Int = 1_000_000,
        deadLetters: Duration = .seconds(30 * 86_400), deadLetterMaxEntries: Int = 100_000,
        replyMaxLength: Int = 10_000, replyStreamTTL: Duration = .seconds(300)
    ) {
        self.commands = commands
        self.events = events
        self.retainedEntries = retainedEntries
        self.maxEntries = maxEntries
        self.deadLetters = deadLetters
        self.deadLetterMaxEntries = deadLetterMaxEntries
        self.replyMaxLength = replyMaxLength
        self.replyStreamTTL = replyStreamTTL
    }
}
