import Contracts
import Foundation
import MessageBus

/// The collections of the webhook service (validators and indexes: schemas/collections/).
public enum WebhookCollections {
    public static let endpoints = "webhook_endpoints"
    public static let deliveries = "webhook_deliveries"
    public static let events = "events"
}

/// A subscriber: a URL, the event types it wants (or `*`), and its signing secret, sealed.
struct EndpointRecord: Codable, Sendable {
    var id: String
    var tenantID: String
    var url: String
    var events: [String]
    var description: String?
    /// `enabled` or `disabled`.
    var status: String
    var disabledReason: String?
    var sealedSecret: String
    /// Since when every attempt to it has failed (nil after a success): an endpoint failing for a
    /// whole retry window is disabled.
    var failingSince: Date?
    var createdAt: Date
    var updatedAt: Date
    var version: Int
}

/// One try to deliver: when, what came back, how long it took.
struct DeliveryAttempt: Codable, Sendable {
    var at: Date
    /// HTTP status; nil when no response came (refused, timed out).
    var statusCode: Int?
    var latencyMilliseconds: Int
    /// The first 1 KiB of the response body.
    var response: String?
    var error: String?

    enum CodingKeys: String, CodingKey {
        case at, response, error
        case statusCode = "status_code"
        case latencyMilliseconds = "latency_ms"
    }
}

/// One event to one endpoint, with its attempts and when the next is due. Durable: the
/// dispatcher finds due deliveries in MongoDB, so retries survive restarts.
struct DeliveryRecord: Codable, Sendable {
    var id: String
    var tenantID: String
    var endpointID: String
    var eventID: String
    var eventType: String
    /// `pending`, `succeeded`, `failed` (its window ran out) or `canceled` (endpoint gone or disabled).
    var status: String
    var manual: Bool
    var attemptCount: Int
    var nextAttemptAt: Date?
    var firstAttemptAt: Date?
    /// A dispatcher's claim: until then no other worker sends it.
    var leaseUntil: Date?
    var leaseOwner: String?
    var attempts: [DeliveryAttempt]
    var createdAt: Date
    var updatedAt: Date
    var version: Int
}

/// An event as the Events API serves it and deliveries send it: `body` is the exact JSON posted
/// (and signed), kept as text so every attempt sends the same bytes.
struct EventRecord: Codable, Sendable {
    var id: String
    var tenantID: String
    var type: String
    /// The customer the event is about, if any: what a customer principal may see.
    var customerID: String?
    var body: String
    var createdAt: Date
    var version: Int = 1
}

extension EndpointRecord {
    /// The API representation (schemas/openapi.yaml `WebhookEndpoint`); the secret only when just created.
    func resource(secret: String? = nil) -> WebhookEndpoint {
        WebhookEndpoint(
            id: id, url: url, events: events, description: description, status: status, disabledReason: disabledReason,
            createdAt: createdAt, secret: secret)
    }
}

extension DeliveryRecord {
    /// The API representation (schemas/openapi.yaml `WebhookDelivery`).
    var resource: WebhookDelivery {
        WebhookDelivery(
            id: id, endpointID: endpointID, eventID: eventID, eventType: eventType, status: status, manual: manual,
            attemptCount: attemptCount, nextAttemptAt: nextAttemptAt, createdAt: createdAt,
            attempts: attempts.map {
                WebhookDelivery.Attempt(
                    at: $0.at, statusCode: $0.statusCode, latencyMs: $0.latencyMilliseconds, response: $0.response, error: $0.error)
            })
    }
}

extension EventRecord {
    /// The event as it was posted to endpoints (`body`, its exact JSON).
    func resource() throws -> Event { try MessageCoding.decode(Event.self, from: body) }
}
