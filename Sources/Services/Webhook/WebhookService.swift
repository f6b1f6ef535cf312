import Contracts
import Crypto
import Foundation
import Logging
import MessageBus
import Mongo
import Redis
import Synchronization
import WorkerRuntime

/// The `webhook` worker: the endpoints API and the Events API on `billing:cmd:webhook`; the
/// event consumer (group `webhook` on `billing:events`) that stores every event and fans it out
/// into durable deliveries; the dispatcher that sends them (``WebhookDispatcher``).
public struct WebhookService: Sendable {
    public static let name = "webhook"
    /// The consumer group on `billing:events`.
    public static let eventGroup = "webhook"
    /// The ledger name of the event consumer (apart from the command consumer's `webhook`).
    public static let eventLedger = "webhook.events"
    /// The internal command the dispatcher sends when an endpoint failed for its whole window.

    public let configuration: WebhookConfiguration
    let secrets: WebhookSecrets
    let policy: EndpointURLPolicy
    /// Wakes this process's dispatcher when new deliveries committed.
    public let wake: WakeSignal
    /// Which tenants and endpoints those deliveries are for.
    let arrivals: DeliveryArrivals

    public init(configuration: WebhookConfiguration) {
        self.configuration = configuration
        self.secrets = WebhookSecrets(key: configuration.secretSealingKey)
        self.policy = EndpointURLPolicy(development: configuration.development)
        self.wake = WakeSignal()
        self.arrivals = DeliveryArrivals()
    }

    /// Handlers of the command stream: endpoints, delivery log, redelivery, events.
    public func registry() -> HandlerRegistry {
        var registry = HandlerRegistry()
        registry.write(Commands.WebhookEndpointCreate.self) { context, payload in try createEndpoint(context, payload.body) }
        registry.read(Commands.WebhookEndpointList.self) { envelope, context, payload in
            try await listEndpoints(envelope, context, payload.query.page)
        }
        registry.read(Commands.WebhookEndpointGet.self) { envelope, context, payload in
            try await getEndpoint(envelope, context, id: payload.path.id)
        }
        registry.write(Commands.WebhookEndpointDelete.self) { context, payload in try deleteEndpoint(context, id: payload.path.id) }
        registry.write(Commands.WebhookEndpointDisable.self) { context, payload in
            try setEnabled(false, context, id: payload.path.id)
        }
        registry.write(Commands.WebhookEndpointEnable.self) { context, payload in
            try setEnabled(true, context, id: payload.path.id)
        }
        registry.write(Commands.WebhookEndpointRedeliver.self) { context, payload in try redeliver(context, payload) }
        registry.read(Commands.WebhookDeliveryList.self) { envelope, context, payload in
            try await listDeliveries(envelope, context, payload)
        }
        // The admin routes over the streams (DESIGN §5) are served here too.
        StreamAdminHandlers(
            names: configuration.names, services: configuration.adminServices, retention: configuration.streams).register(into: &registry)
        registry.write(Commands.WebhookEndpointDisableFailing.self) { context, failure in try disableFailing(context, failure) }
        registry.read(Commands.EventList.self) { envelope, context, payload in try await listEvents(envelope, context, payload.query) }
        registry.read(Commands.EventGet.self) { envelope, context, payload in
            try await getEvent(envelope, context, id: payload.path.id)
        }
        return registry
    }

    /// The event consumer's one handler: every event type.
    public func eventRegistry() -> HandlerRegistry {
        var registry = HandlerRegistry()
        registry.writeEvery { context in try recordAndFanOut(context) }
        return registry
    }

    // MARK: Events in: store, fan out

    /// Stores the event (once per ID) and creates one pending delivery per matching enabled endpoint
    /// of its tenant, in the transaction that records the event as processed.
    func recordAndFanOut(_ context: CommandContext) throws -> HandlerResult {
        let envelope = context.envelope
        let id = WebhookIDs.event(envelope.id)
        let tenant = envelope.principal.tenant
        let events = context.transaction.collection(WebhookCollections.events, as: EventRecord.self)
        let duplicate = HandlerResult(body: .object(["event": .string(id), "duplicate": .bool(true)]))
        let record = EventRecord(
            id: id, tenantID: tenant, type: envelope.type, customerID: Self.customerID(of: envelope),
            body: String(decoding: try Self.eventBody(envelope), as: UTF8.self), createdAt: envelope.createdAt)
        if envelope.type == EventType.customerDeleted.name, let customer = envelope.payload["id"]?.stringValue {
            // The customer's earlier events are erased before this one is stored.
            if try events.findOne(["_id": .string(id)]) != nil { return duplicate }
            try eraseEvents(
                customer: customer, user: envelope.payload["user_id"]?.stringValue,
                tenant: envelope.payload["tenant_id"]?.stringValue ?? tenant, context)
            _ = try events.insertOne(record)
        } else if try !events.insertIfAbsent(record) {
            // Stored once per ID: one upsert, where a find and an insert cost the database two commands per event.
            return duplicate
        }
        let endpoints = try context.transaction.collection(WebhookCollections.endpoints, as: EndpointRecord.self).find([
            "tenant_id": .string(tenant), "status": "enabled", "events": ["$in": [.string(envelope.type), "*"]],
        ])
        let now = context.now
        let deliveries = endpoints.map { endpoint in
            DeliveryRecord(
                id: WebhookIDs.delivery(event: id, endpoint: endpoint.id), tenantID: tenant, endpointID: endpoint.id,
                eventID: id, eventType: envelope.type, status: "pending", manual: false, attemptCount: 0,
                nextAttemptAt: now, firstAttemptAt: nil, leaseUntil: nil, leaseOwner: nil, attempts: [], createdAt: now,
                updatedAt: now, version: 1)
        }
        if !deliveries.isEmpty {
            _ = try context.transaction.collection(WebhookCollections.deliveries, as: DeliveryRecord.self).insertMany(deliveries)
            let (wake, arrivals) = (self.wake, self.arrivals)
            let endpointIDs = deliveries.map(\.endpointID)
            context.afterCommit { _ in
                arrivals.note(tenant: tenant, endpoints: endpointIDs)
                wake.signal()
            }
        }
        return HandlerResult(body: .object(["event": .string(id), "deliveries": .number(String(deliveries.count))]))
    }

    /// Erasure reaches the events (`customer.deleted`): the stored events about the customer
    /// (`customer_id`) and those naming its login (`user_id`: sign-in audit events carry its IP
    /// and email digest) are deleted in the transaction that stores the erasure notice; their
    /// deliveries not yet made are canceled (they would send what erasure removed) and the
    /// receivers' responses logged for them are cleared. The notice itself is stored and delivered
    /// as any event: it holds IDs only, and integrations need it to erase their copies.
    func eraseEvents(customer: String, user: String?, tenant: String, _ context: CommandContext) throws {
        let transaction = context.transaction
        let events = transaction.collection(WebhookCollections.events, as: BSONDocument.self)
        let idsOnly = FindOptions(projection: ["_id": 1])
        var found = try events.findDocuments(["tenant_id": .string(tenant), "customer_id": .string(customer)], options: idsOnly)
        if let user, !user.isEmpty {
            // The user ID as a JSON string anywhere in the body (a scan of the tenant's events, once per erasure).
            found += try events.findDocuments(
                ["tenant_id": .string(tenant), "body": ["$regex": .string(Self.literalPattern("\"\(user)\""))]], options: idsOnly)
        }
        let ids = Set(found.compactMap { $0["_id"]?.stringValue }).sorted().map(BSONValue.string)
        guard !ids.isEmpty else { return }
        _ = try events.deleteMany(["tenant_id": .string(tenant), "_id": ["$in": .array(ids)]])
        // Their deliveries, found through the tenant's endpoints (the deliveries' endpoint index).
        let endpointIDs = try transaction.collection(WebhookCollections.endpoints, as: BSONDocument.self)
            .findDocuments(["tenant_id": .string(tenant)], options: idsOnly).compactMap { $0["_id"] }
        guard !endpointIDs.isEmpty else { return }
        let deliveries = transaction.collection(WebhookCollections.deliveries, as: BSONDocument.self)
        let ofErased: BSONDocument = ["endpoint_id": ["$in": .array(endpointIDs)], "event_id": ["$in": .array(ids)]]
        var pending = ofErased
        pending["status"] = "pending"
        _ = try deliveries.updateMany(
            pending,
            update: [
                "$set": ["status": "canceled", "updated_at": .datetime(context.now), "next_attempt_at": .null],
                "$inc": ["version": 1],
            ])
        _ = try deliveries.updateMany(ofErased, update: ["$set": ["attempts.$[].response": .null], "$inc": ["version": 1]])
    }

    /// A regular expression matching `text` literally.
    static func literalPattern(_ text: String) -> String {
        var pattern = ""
        for character in text {
            if !(character.isLetter || character.isNumber || character == "_" || character == "\"") { pattern.append("\\") }
            pattern.append(character)
        }
        return pattern
    }

    /// The JSON posted to endpoints and served by the Events API.
    static func eventBody(_ envelope: Envelope) throws -> Data {
        try MessageCoding.encode(
            Event(
                id: WebhookIDs.event(envelope.id), type: envelope.type, createdAt: envelope.createdAt, data: envelope.payload,
                requestID: envelope.correlationID))
    }

    /// Whom an event is about: the payload's `customer_id`, the `id` of a `customer.*` event, or
    /// the customer who acted.
    static func customerID(of envelope: Envelope) -> String? {
        if let id = envelope.payload["customer_id"]?.stringValue { return id }
        if envelope.type.hasPrefix("customer."), let id = envelope.payload["id"]?.stringValue { return id }
        return envelope.principal.role == .customer ? envelope.principal.customerID : nil
    }

    // MARK: Endpoints

    func createEndpoint(_ context: CommandContext, _ draft: EndpointDraft) throws -> Answer<WebhookEndpoint> {
        let url = try policy.validate(draft.url.value)
        let endpoints = context.transaction.collection(WebhookCollections.endpoints, as: EndpointRecord.self)
        // Disabled endpoints count too: enabling one must not pass the limit.
        let limit = configuration.maxEndpointsPerTenant
        guard try endpoints.count(["tenant_id": .string(context.envelope.principal.tenant)], limit: limit) < limit else {
            throw Problem(
                status: 409, code: "endpoint_limit_reached", title: "Endpoint limit reached",
                detail: "a tenant may have at most \(limit) webhook endpoints (disabled ones included); delete one first")
        }
        let now = context.now
        let secret = WebhookSecrets.generate()
        let record = EndpointRecord(
            id: WebhookIDs.make("we", at: now), tenantID: context.envelope.principal.tenant, url: url.absoluteString,
            events: draft.events.values, description: draft.description?.value, status: "enabled", disabledReason: nil,
            sealedSecret: try secrets.seal(secret), failingSince: nil, createdAt: now, updatedAt: now, version: 1)
        _ = try endpoints.insertOne(record)
        context.emit(.webhookEndpointCreated, payload: Self.endpointEventPayload(record))
        return Answer(status: 201, record.resource(secret: secret))
    }

    func listEndpoints(_ envelope: Envelope, _ context: ReadContext, _ page: PageQuery) async throws
        -> Answer<Page<WebhookEndpoint>>
    {
        let limit = Self.limit(page)
        var filter: BSONDocument = ["tenant_id": .string(envelope.principal.tenant)]
        if let after = page.startingAfter?.value { filter["_id"] = ["$lt": .string(after)] }
        let records = try await context.database.collection(WebhookCollections.endpoints, as: EndpointRecord.self).find(
            filter, options: FindOptions(sort: ["_id": -1], limit: limit + 1))
        return Answer(Page(records.prefix(limit).map { $0.resource() }, hasMore: records.count > limit))
    }

    func getEndpoint(_ envelope: Envelope, _ context: ReadContext, id: String) async throws -> Answer<WebhookEndpoint> {
        guard
            let record = try await context.database.collection(WebhookCollections.endpoints, as: EndpointRecord.self)
                .findOne(["_id": .string(id), "tenant_id": .string(envelope.principal.tenant)])
        else { throw Problem.notFound("webhook endpoint \(id)") }
        return Answer(record.resource())
    }

    func deleteEndpoint(_ context: CommandContext, id: String) throws -> Answer<NoContent> {
        let endpoints = context.transaction.collection(WebhookCollections.endpoints, as: EndpointRecord.self)
        guard let record = try endpoints.findOne(["_id": .string(id), "tenant_id": .string(context.envelope.principal.tenant)])
        else { throw Problem.notFound("webhook endpoint \(id)") }
        _ = try endpoints.deleteOne(["_id": .string(id)])
        try cancelPending(endpoint: id, context, reason: "endpoint deleted")
        context.emit(.webhookEndpointDeleted, payload: Self.endpointEventPayload(record))
        return .noContent
    }

    func setEnabled(_ enabled: Bool, _ context: CommandContext, id: String) throws -> Answer<WebhookEndpoint> {
        let endpoints = context.transaction.collection(WebhookCollections.endpoints, as: EndpointRecord.self)
        guard var record = try endpoints.findOne(["_id": .string(id), "tenant_id": .string(context.envelope.principal.tenant)])
        else { throw Problem.notFound("webhook endpoint \(id)") }
        let wanted = enabled ? "enabled" : "disabled"
        guard record.status != wanted else { return Answer(record.resource()) }
        let now = context.now
        if enabled {
            _ = try endpoints.updateOne(
                ["_id": .string(id)],
                update: [
                    "$set": [
                        "status": "enabled", "updated_at": .datetime(now), "disabled_reason": .null, "failing_since": .null,
                    ],
                    "$inc": ["version": 1],
                ])
            record.disabledReason = nil
            record.failingSince = nil
        } else {
            _ = try endpoints.updateOne(
                ["_id": .string(id)],
                update: [
                    "$set": ["status": "disabled", "disabled_reason": "disabled by request", "updated_at": .datetime(now)],
                    "$inc": ["version": 1],
                ])
            record.disabledReason = "disabled by request"
            try cancelPending(endpoint: id, context, reason: "endpoint disabled")
        }
        record.status = wanted
        record.updatedAt = now
        record.version += 1
        var payload = Self.endpointEventPayload(record)
        if !enabled { payload = Self.merging(payload, ["reason": .string("requested")]) }
        context.emit(enabled ? .webhookEndpointEnabled : .webhookEndpointDisabled, payload: payload)
        return Answer(record.resource())
    }

    /// Sent by a dispatcher when a delivery ran out of its window: disables the endpoint if it has
    /// been failing for the whole window (checked again here, in the transaction) and says so.
    func disableFailing(_ context: CommandContext, _ failure: EndpointFailure) throws -> Answer<EndpointFailureOutcome> {
        let id = failure.endpointID.value
        let windowStart = failure.windowStartedAt
        let endpoints = context.transaction.collection(WebhookCollections.endpoints, as: EndpointRecord.self)
        guard var record = try endpoints.findOne(["_id": .string(id)]) else {
            return Answer(EndpointFailureOutcome(disabled: false))
        }
        // Still failing since (at least) the start of the window that ran out: no success came between.
        guard record.status == "enabled", let since = record.failingSince, since <= windowStart.addingTimeInterval(0.001)
        else { return Answer(EndpointFailureOutcome(disabled: false)) }
        let reason = "every delivery failed since \(MessageCoding.formatTimestamp(since)), for the whole retry window"
        _ = try endpoints.updateOne(
            ["_id": .string(id), "status": "enabled"],
            update: [
                "$set": ["status": "disabled", "disabled_reason": .string(reason), "updated_at": .datetime(context.now)],
                "$inc": ["version": 1],
            ])
        try cancelPending(endpoint: id, context, reason: "endpoint disabled")
        record.status = "disabled"
        record.disabledReason = reason
        context.emit(.webhookEndpointDisabled,
            payload: Self.merging(
                Self.endpointEventPayload(record),
                ["reason": .string("failing"), "failing_since": .string(MessageCoding.formatTimestamp(since))]))
        return Answer(EndpointFailureOutcome(disabled: true))
    }

    private func cancelPending(endpoint: String, _ context: CommandContext, reason: String) throws {
        _ = try context.transaction.collection(WebhookCollections.deliveries, as: DeliveryRecord.self).updateMany(
            ["endpoint_id": .string(endpoint), "status": "pending"],
            update: [
                "$set": ["status": "canceled", "updated_at": .datetime(context.now), "next_attempt_at": .null],
                "$inc": ["version": 1],
            ])
    }

    // MARK: Delivery log and redelivery

    /// `POST /v1/webhook-endpoints/{id}/redeliver` `{"event_id"}`: one more delivery of one event
    /// to one endpoint, logged as its own delivery (`manual: true`).
    func redeliver(_ context: CommandContext, _ payload: Commands.WebhookEndpointRedeliver.Payload) throws
        -> Answer<WebhookDelivery>
    {
        let id = payload.path.id
        let eventID = payload.body.eventID.value
        let tenant = context.envelope.principal.tenant
        guard
            let endpoint = try context.transaction.collection(WebhookCollections.endpoints, as: EndpointRecord.self)
                .findOne(["_id": .string(id), "tenant_id": .string(tenant)])
        else { throw Problem.notFound("webhook endpoint \(id)") }
        guard endpoint.status == "enabled" else {
            throw Problem(
                status: 409, code: "endpoint_disabled", title: "Endpoint disabled",
                detail: "webhook endpoint \(id) is disabled; enable it first", param: "id")
        }
        guard
            let event = try context.transaction.collection(WebhookCollections.events, as: EventRecord.self).findOne([
                "_id": .string(eventID), "tenant_id": .string(tenant),
            ])
        else {
            throw Problem(
                status: 404, code: "not_found", title: "Not found", detail: "event \(eventID) does not exist",
                param: "event_id")
        }
        let now = context.now
        let delivery = DeliveryRecord(
            id: WebhookIDs.make("whd", at: now), tenantID: tenant, endpointID: id, eventID: event.id,
            eventType: event.type, status: "pending", manual: true, attemptCount: 0, nextAttemptAt: now,
            firstAttemptAt: nil, leaseUntil: nil, leaseOwner: nil, attempts: [], createdAt: now, updatedAt: now,
            version: 1)
        _ = try context.transaction.collection(WebhookCollections.deliveries, as: DeliveryRecord.self).insertOne(delivery)
        let (wake, arrivals) = (self.wake, self.arrivals)
        context.afterCommit { _ in
            arrivals.note(tenant: tenant, endpoints: [id])
            wake.signal()
        }
        return Answer(status: 201, delivery.resource)
    }

    func listDeliveries(_ envelope: Envelope, _ context: ReadContext, _ payload: Commands.WebhookDeliveryList.Payload)
        async throws -> Answer<Page<WebhookDelivery>>
    {
        let id = payload.path.id
        let page = payload.query.page
        let limit = Self.limit(page)
        let tenant = envelope.principal.tenant
        guard
            try await context.database.collection(WebhookCollections.endpoints, as: EndpointRecord.self).findOne([
                "_id": .string(id), "tenant_id": .string(tenant),
            ]) != nil
        else { throw Problem.notFound("webhook endpoint \(id)") }
        let deliveries = context.database.collection(WebhookCollections.deliveries, as: DeliveryRecord.self)
        var filter: BSONDocument = ["endpoint_id": .string(id), "tenant_id": .string(tenant)]
        if let event = payload.query.filters.eventID?.value { filter["event_id"] = .string(event) }
        if let after = page.startingAfter?.value {
            guard let cursor = try await deliveries.findOne(["_id": .string(after), "endpoint_id": .string(id)]) else {
                throw Problem.invalid("starting_after", "no delivery \(after) of this endpoint")
            }
            filter["$or"] = [
                ["created_at": ["$lt": .datetime(cursor.createdAt)]],
                ["created_at": .datetime(cursor.createdAt), "_id": ["$lt": .string(after)]],
            ]
        }
        let records = try await deliveries.find(filter, options: FindOptions(sort: ["created_at": -1, "_id": -1], limit: limit + 1))
        return Answer(Page(records.prefix(limit).map(\.resource), hasMore: records.count > limit))
    }

    // MARK: Events API

    func listEvents(_ envelope: Envelope, _ context: ReadContext, _ query: Listing<EventFilters>) async throws
        -> Answer<Page<Event>>
    {
        let limit = Self.limit(query.page)
        let filters = query.filters
        var filter = try Self.visibility(envelope.principal)
        if let type = filters.type?.value { filter["type"] = .string(type) }
        var created: BSONDocument = [:]
        if let from = filters.`created[gte]` { created["$gte"] = .datetime(from) }
        if let to = filters.`created[lte]` { created["$lte"] = .datetime(to) }
        if !created.isEmpty { filter["created_at"] = .document(created) }
        if let after = query.page.startingAfter?.value { filter["_id"] = ["$lt": .string(after)] }
        let records = try await context.database.collection(WebhookCollections.events, as: EventRecord.self).find(
            filter, options: FindOptions(sort: ["_id": -1], limit: limit + 1))
        return Answer(Page(try records.prefix(limit).map { try $0.resource() }, hasMore: records.count > limit))
    }

    func getEvent(_ envelope: Envelope, _ context: ReadContext, id: String) async throws -> Answer<Event> {
        var filter = try Self.visibility(envelope.principal)
        filter["_id"] = .string(id)
        guard let record = try await context.database.collection(WebhookCollections.events, as: EventRecord.self).findOne(filter)
        else { throw Problem.notFound("event \(id)") }
        return Answer(try record.resource())
    }

    /// The events a principal may see: its tenant's; a customer only those about itself.
    static func visibility(_ principal: Principal) throws -> BSONDocument {
        var filter: BSONDocument = ["tenant_id": .string(principal.tenant)]
        if principal.role == .customer {
            guard let customer = principal.customerID else { throw Problem.notFound("event") }
            filter["customer_id"] = .string(customer)
        }
        return filter
    }

    // MARK: JSON

    /// A page's size: 1–100 (its field type's check), 10 when not given.
    static func limit(_ page: PageQuery) -> Int { page.limit?.value ?? 10 }

    static func merging(_ value: JSONValue, _ extra: [String: JSONValue]) -> JSONValue {
        guard case .object(var members) = value else { return value }
        members.merge(extra) { $1 }
        return .object(members)
    }

    static func endpointEventPayload(_ record: EndpointRecord) -> JSONValue {
        .object([
            "id": .string(record.id), "url": .string(record.url), "events": .array(record.events.map(JSONValue.string)),
            "status": .string(record.status),
        ])
    }
}
