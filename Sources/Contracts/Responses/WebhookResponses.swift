import Foundation
import MessageBus

// The webhook worker's answers (schemas/openapi.yaml `WebhookEndpoint`, `WebhookDelivery`, `Event`)
// and the admin reports it serves (`StreamReport`, `DeadLetterReport`).

/// A webhook endpoint; `secret` (`whsec_…`) only in the answer that created it.
public struct WebhookEndpoint: Codable, Sendable, ShowsSecretsOnce {
    public static let secretFields = ["secret"]

    public var id: String
    public var object = "webhook_endpoint"
    public var url: String
    public var events: [String]
    @Nullable public var description: String?
    public var status: String
    @Nullable public var disabledReason: String?
    public var createdAt: Date
    public var secret: String?

    public init(
        id: String, url: String, events: [String], description: String?, status: String, disabledReason: String?,
        createdAt: Date, secret: String? = nil
    ) {
        (self.id, self.url, self.events, self.description, self.status) = (id, url, events, description, status)
        (self.disabledReason, self.createdAt, self.secret) = (disabledReason, createdAt, secret)
    }
}

/// One event to one endpoint and every attempt at it.
public struct WebhookDelivery: Codable, Sendable {
    /// One try: when, the HTTP status (`null` when no response came), how long, what came back.
    public struct Attempt: Codable, Sendable {
        public var at: Date
        @Nullable public var statusCode: Int?
        public var latencyMs: Int
        @Nullable public var response: String?
        @Nullable public var error: String?

        public init(at: Date, statusCode: Int?, latencyMs: Int, response: String?, error: String?) {
            (self.at, self.statusCode, self.latencyMs, self.response, self.error) = (at, statusCode, latencyMs, response, error)
        }
    }

    public var id: String
    public var object = "webhook_delivery"
    public var endpointID, eventID, eventType, status: String
    public var manual: Bool
    public var attemptCount: Int
    @Nullable public var nextAttemptAt: Date?
    public var createdAt: Date
    public var attempts: [Attempt]

    public init(
        id: String, endpointID: String, eventID: String, eventType: String, status: String, manual: Bool, attemptCount: Int,
        nextAttemptAt: Date?, createdAt: Date, attempts: [Attempt]
    ) {
        (self.id, self.endpointID, self.eventID, self.eventType, self.status) = (id, endpointID, eventID, eventType, status)
        (self.manual, self.attemptCount, self.nextAttemptAt) = (manual, attemptCount, nextAttemptAt)
        (self.createdAt, self.attempts) = (createdAt, attempts)
    }
}

/// A domain event as endpoints receive it (signed, byte for byte) and the Events API serves it.
public struct Event: Codable, Sendable {
    public var id: String
    public var object = "event"
    public var type: String
    public var createdAt: Date
    public var data: JSONValue
    /// The `Request-Id` of the request that caused it.
    public var requestID: String

    public init(id: String, type: String, createdAt: Date, data: JSONValue, requestID: String) {
        (self.id, self.type, self.createdAt, self.data, self.requestID) = (id, type, createdAt, data, requestID)
    }
}

/// What `webhook_endpoint.disable_failing` did: false when the endpoint recovered (or is gone).
public struct EndpointFailureOutcome: Codable, Sendable {
    public var disabled: Bool

    public init(disabled: Bool) { self.disabled = disabled }
}

/// One stream of `GET /v1/admin/streams`: its length, dead letters and consumer groups.
public struct StreamReport: Codable, Sendable {
    public struct Group: Codable, Sendable {
        public var name: String
        @Nullable public var lag: Int?
        public var pending: Int
        @Nullable public var oldestPendingMs: Int?
        public var consumers: [Consumer]

        public init(name: String, lag: Int?, pending: Int, oldestPendingMs: Int?, consumers: [Consumer]) {
            (self.name, self.lag, self.pending, self.oldestPendingMs, self.consumers) = (name, lag, pending, oldestPendingMs, consumers)
        }
    }

    public struct Consumer: Codable, Sendable {
        public var name: String
        public var pending: Int
        public var idleMs: Int

        public init(name: String, pending: Int, idleMs: Int) { (self.name, self.pending, self.idleMs) = (name, pending, idleMs) }
    }

    public var stream: String
    public var length: Int
    public var deadLetters: Int
    public var groups: [Group]

    public init(stream: String, length: Int, deadLetters: Int, groups: [Group]) {
        (self.stream, self.length, self.deadLetters, self.groups) = (stream, length, deadLetters, groups)
    }
}

/// One dead letter of `GET /v1/admin/dead-letters`, without its envelope (it may hold a password).
public struct DeadLetterReport: Codable, Sendable {
    public var id: String
    public var service: String
    public var originalID: String
    /// The command type, `null` when the envelope cannot be read.
    @Nullable public var type: String?
    public var error: String
    public var deliveries: Int
    @Nullable public var deadLetteredAt: Date?

    public init(id: String, service: String, originalID: String, type: String?, error: String, deliveries: Int, deadLetteredAt: Date?) {
        (self.id, self.service, self.originalID, self.type, self.error) = (id, service, originalID, type, error)
        (self.deliveries, self.deadLetteredAt) = (deliveries, deadLetteredAt)
    }
}

/// `POST /v1/admin/dead-letters/{id}/retry`: the dead letter put back on its command stream.
public struct DeadLetterRetried: Codable, Sendable {
    public var id: String
    public var service: String
    public var retried = true

    public init(id: String, service: String) { (self.id, self.service) = (id, service) }
}
