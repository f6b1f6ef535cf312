import Foundation

/// Who acts: carried in every envelope so workers can authorise and scope by tenant.
public struct Principal: Sendable, Hashable, Codable {
    public enum Role: String, Sendable, Codable {
        case admin, customer, service, system
    }

    public var subject: String
    public var role: Role
    public var scopes: [String]
    public var tenant: String
    public var customerID: String?
    /// The `jti` of the access token the request came with (so logout can deny-list it); nil otherwise.
    public var tokenID: String?

    public init(
        subject: String, role: Role, scopes: [String] = [], tenant: String, customerID: String? = nil,
        tokenID: String? = nil
    ) {
        self.subject = subject
        self.role = role
        self.scopes = scopes
        self.tenant = tenant
        self.customerID = customerID
        self.tokenID = tokenID
    }
}

/// One stream entry: a command or an event, with its routing and tracing data (DESIGN §3).
public struct Envelope: Sendable, Hashable, Codable {
    /// Time-ordered ID; for a command it is also the operation ID.
    public var id: String
    /// `<resource>.<verb>` for commands, `<resource>.<past-tense>` for events.
    public var type: String
    public var correlationID: String
    public var causationID: String?
    /// The reply stream of the waiting gateway instance, or empty.
    public var replyTo: String
    public var principal: Principal
    public var idempotencyKey: String?
    /// After it, a command is answered with a timeout error and not executed.
    public var deadline: Date?
    public var traceparent: String?
    public var payload: JSONValue
    public var createdAt: Date
    /// True when the gateway answered the client 202 at once (`Prefer: respond-async`): the worker
    /// then raises `operation.completed` itself. Absent otherwise.
    public var respondAsync: Bool?

    public init(
        id: String = MessageID.make(), type: String, correlationID: String? = nil, causationID: String? = nil,
        replyTo: String = "", principal: Principal, idempotencyKey: String? = nil, deadline: Date? = nil,
        traceparent: String? = nil, payload: JSONValue, createdAt: Date, respondAsync: Bool? = nil
    ) {
        self.id = id
        self.type = type
        self.correlationID = correlationID ?? id
        self.causationID = causationID
        self.replyTo = replyTo
        self.principal = principal
        self.idempotencyKey = idempotencyKey
        self.deadline = deadline
        self.traceparent = traceparent
        self.payload = payload
        self.createdAt = createdAt
        self.respondAsync = respondAsync
    }
}
