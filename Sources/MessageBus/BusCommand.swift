/// A command type of the bus: the name its envelopes carry (`<resource>.<verb>`) and the service
/// whose stream (`billing:cmd:<service>`) and consumer group run it. Routes, handler registrations
/// and internal sends name the type (the catalogue is `Contracts.Commands`), never the string.
public protocol BusCommand: Sendable {
    /// What its envelope's `payload` decodes to (``PayloadDecoder``), usually a ``Request`` of
    /// path, query and body types; untyped commands read the ``JSONValue`` field by field.
    associatedtype Payload: Decodable & Sendable = JSONValue
    /// What its handler answers (a resource, a page of them, `NoContent`), encoded once into
    /// the reply's JSON by the worker runtime; schemas/openapi.yaml is its contract.
    associatedtype Response: Codable & Sendable
    /// The envelope `type`, e.g. `customer.create` (schemas/commands/<name>.json).
    static var name: String { get }
    /// The service that runs it, e.g. `customer`.
    static var service: String { get }
    /// Fields of its payload that are secrets (a password, a refresh token), at the top level of
    /// `body` or of the payload: its stream entry is deleted once processed (its ledger entry answers
    /// a redelivery), and a dead letter keeps them redacted.
    static var secretFields: [String] { get }
}

extension BusCommand {
    public static var secretFields: [String] { [] }

    /// The payload of an envelope of this command, decoded; a 422 naming the field when it does not fit.
    public static func payload(of envelope: Envelope) throws(Problem) -> Payload {
        try PayloadDecoder.decode(Payload.self, from: envelope.payload)
    }
}

/// A domain event type (`<resource>.<past-tense>`), raised into the outbox and published on
/// `billing:events` (the catalogue is in `Contracts`; schemas/events/<name>.json).
public struct EventType: Sendable, Hashable, CustomStringConvertible {
    public let name: String

    public init(_ name: String) { self.name = name }

    public var description: String { name }
}

/// A response with members that are secrets shown once (a new API key, a client secret, tokens):
/// the reply carries them, the ledger and the operation state never do (``Reply/redacted()``).
public protocol ShowsSecretsOnce {
    /// Its top-level members that are secrets.
    static var secretFields: [String] { get }
}
