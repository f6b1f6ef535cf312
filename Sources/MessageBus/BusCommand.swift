/// A command type of the bus: the name its envelopes carry (`<resource>.<verb>`) and the service
/// whose stream (`billing:cmd:<service>`) and consumer group run it. Routes, handler registrations
/// and internal sends name the type (the catalogue is `Contracts.Commands`), never the string.
public protocol BusCommand: Sendable {
    /// The envelope `type`, e.g. `customer.create` (schemas/commands/<name>.json).
    static var name: String { get }
    /// The service that runs it, e.g. `customer`.
    static var service: String { get }
}

/// A domain event type (`<resource>.<past-tense>`), raised into the outbox and published on
/// `billing:events` (the catalogue is in `Contracts`; schemas/events/<name>.json).
public struct EventType: Sendable, Hashable, CustomStringConvertible {
    public let name: String

    public init(_ name: String) { self.name = name }

    public var description: String { name }
}
