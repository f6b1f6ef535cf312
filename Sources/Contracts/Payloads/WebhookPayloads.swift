import Foundation
import MessageBus

// schemas/commands/webhook_endpoint.*, webhook_delivery.*, event.* and admin.*.json as types (the
// webhook worker serves the admin routes too); CommandCatalogTests keeps them in agreement.

/// A new webhook endpoint: `POST /v1/webhook-endpoints`. Where it may point is the worker's policy.
public struct EndpointDraft: Decodable, Sendable {
    public let url: Text<1, 2000>
    public let events: EventTypeList
    public let description: Text<0, 500>?
}

/// The event types an endpoint subscribes to: `*`, or names such as `invoice.paid`; at least one,
/// at most 100, repeats dropped.
public struct EventTypeList: Decodable, Sendable, Hashable {
    public let values: [String]

    public init(from decoder: any Decoder) throws {
        let listed = try Items<Text<1, 100>, 100>(from: decoder).values.map(\.value)
        guard !listed.isEmpty else {
            throw FieldError(#"must list at least one event type, such as ["invoice.paid"], or ["*"]"#)
        }
        var values: [String] = []
        for type in listed where !values.contains(type) {
            guard type == "*" || type.wholeMatch(of: /[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+/) != nil else {
                throw FieldError("must each be '*' or an event type such as 'invoice.paid'")
            }
            values.append(type)
        }
        self.values = values
    }
}

/// `POST /v1/webhook-endpoints/{id}/redeliver`: the stored event to send again.
public struct Redelivery: Decodable, Sendable {
    public let eventID: Text<1, 64>
}

/// `GET /v1/webhook-endpoints/{id}/deliveries`: the attempts at one event only.
public struct DeliveryFilters: Decodable, Sendable {
    public let eventID: Text<1, 64>?
}

/// `GET /v1/events`: by type and by creation time (`created[gte]`, `created[lte]`, RFC 3339).
public struct EventFilters: Decodable, Sendable {
    public let type: Text<1, 100>?
    public let `created[gte]`: Date?
    public let `created[lte]`: Date?
}

/// `webhook_endpoint.disable_failing`, from the webhook dispatcher: the endpoint whose deliveries
/// have failed since `windowStartedAt`, the start of the retry window that ran out.
public struct EndpointFailure: Decodable, Sendable {
    public let endpointID: Text<1, 80>
    public let windowStartedAt: Date
}

extension Commands.WebhookEndpointCreate { public typealias Payload = Request<NoFields, NoFields, EndpointDraft> }
extension Commands.WebhookEndpointList { public typealias Payload = Request<NoFields, Listing<NoFields>, NoFields> }
extension Commands.WebhookEndpointGet { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.WebhookEndpointDelete { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.WebhookEndpointDisable { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.WebhookEndpointEnable { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.WebhookEndpointRedeliver { public typealias Payload = Request<IDPath, NoFields, Redelivery> }
extension Commands.WebhookDeliveryList { public typealias Payload = Request<IDPath, Listing<DeliveryFilters>, NoFields> }
extension Commands.WebhookEndpointDisableFailing { public typealias Payload = EndpointFailure }
extension Commands.EventList { public typealias Payload = Request<NoFields, Listing<EventFilters>, NoFields> }
extension Commands.EventGet { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.AdminStreams { public typealias Payload = Request<NoFields, NoFields, NoFields> }
extension Commands.AdminDeadLetters { public typealias Payload = Request<NoFields, NoFields, NoFields> }
extension Commands.AdminDeadLetterRetry { public typealias Payload = Request<IDPath, NoFields, NoFields> }
