import BillingDomain
import Contracts
import Foundation
import MessageBus
import Mongo
import ServiceKit
import WorkerRuntime

/// The `plan` worker (DESIGN §4–§5): plans with exact prices, the public list of active plans,
/// updates that keep billing terms fixed once subscribed, archiving.
public enum PlanService {
    public static let name = "plan"
    public static let collection = "plans"
    static let idPrefix = "plan"

    public static func registry() -> HandlerRegistry {
        var registry = HandlerRegistry()
        registry.write(Commands.PlanCreate.self, PlanHandlers.create)
        registry.write(Commands.PlanUpdate.self, PlanHandlers.update)
        registry.write(Commands.PlanArchive.self, PlanHandlers.archive)
        registry.read(Commands.PlanGet.self, PlanHandlers.get)
        registry.read(Commands.PlanList.self, PlanHandlers.list)
        return registry
    }
}

enum PlanHandlers {
    static let staff: Set<Principal.Role> = [.admin, .service, .system]
    /// The billing terms: fixed once any subscription uses the plan.
    static let terms = ["price", "currency", "interval", "interval_count"]

    // MARK: Writes

    @Sendable static func create(_ context: CommandContext, _ payload: Commands.PlanCreate.Payload) throws -> Answer<Plan> {
        let access = Access(context.envelope.principal)
        try access.require(staff, to: "create plans")
        let draft = payload.body
        let currency = draft.currency.currency
        let plan = PlanDocument(
            id: ResourceID.make(PlanService.idPrefix, at: context.now), tenantID: access.tenant, name: draft.name.value,
            description: draft.description?.value, price: try checkedPrice(draft.price.text, currency: currency, param: "price"),
            currency: currency.code, interval: draft.interval, intervalCount: draft.intervalCount?.value ?? 1,
            trialDays: draft.trialDays?.value ?? 0, features: draft.features?.values.map(\.value) ?? [],
            metadata: draft.metadata?.values ?? [:], active: true, archivedAt: nil, createdAt: context.now,
            updatedAt: context.now, version: 1)
        try context.transaction.collection(PlanService.collection, as: PlanDocument.self).insertOne(plan)
        context.emit(.planCreated, payload: try event(plan))
        return Answer(status: 201, plan.resource)
    }

    @Sendable static func update(_ context: CommandContext, _ payload: Commands.PlanUpdate.Payload) throws -> Answer<Plan> {
        let access = Access(context.envelope.principal)
        let id = try ResourceID.path(payload.path.id, prefix: PlanService.idPrefix, what: "plan")
        try access.require(staff, to: "change plans")
        let changes = payload.body
        let plans = context.transaction.collection(PlanService.collection, as: PlanDocument.self)
        guard let filter = access.scope(["_id": .string(id)]), var plan = try plans.findOne(filter) else {
            throw Problem.notFound("plan")
        }
        var set = BSONDocument()
        var fields: [String] = []
        func change<T: Equatable>(_ field: String, _ keyPath: WritableKeyPath<PlanDocument, T>, _ value: T?, _ bson: (T) -> BSONValue) {
            guard let value, value != plan[keyPath: keyPath] else { return }
            plan[keyPath: keyPath] = value
            set[field] = bson(value)
            fields.append(field)
        }
        change("name", \.name, changes.name?.value, BSONValue.string)
        if let description = changes.description?.value, description != plan.description {
            plan.description = description
            set["description"] = .string(description)
            fields.append("description")
        }
        // Terms: a new price is checked against the currency it will have, and a new currency
        // without a new price against the stored price.
        let newCurrency = changes.currency?.currency
        if let currency = newCurrency ?? Currency(code: plan.currency) {
            if let price = changes.price {
                change("price", \.price, try checkedPrice(price.text, currency: currency, param: "price"), BSONValue.decimal128)
            } else if newCurrency != nil {
                _ = try checkedPrice(DocumentJSON.decimal(plan.price), currency: currency, param: "currency")
            }
        }
        change("currency", \.currency, newCurrency?.code, BSONValue.string)
        change("interval", \.interval, changes.interval) { .string($0.rawValue) }
        change("interval_count", \.intervalCount, changes.intervalCount?.value, BSONValue.int)
        change("trial_days", \.trialDays, changes.trialDays?.value, BSONValue.int)
        change("features", \.features, changes.features?.values.map(\.value)) { .array($0.map(BSONValue.string)) }
        if let metadata = changes.metadata {
            change("metadata", \.metadata, try metadata.merged(into: plan.metadata)) {
                .document(BSONDocument($0.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
            }
        }
        if let term = terms.first(where: fields.contains) {
            let subscriptions = context.transaction.collection("subscriptions", as: BSONDocument.self)
            if try subscriptions.count(["tenant_id": .string(access.tenant), "plan_id": .string(id)], limit: 1) > 0 {
                throw Problem.conflict(
                    "plan_in_use",
                    "price, currency and interval cannot change once a plan has subscriptions; create a new plan with the new terms and move subscriptions to it",
                    param: term)
            }
        }
        guard !fields.isEmpty else { return Answer(plan.resource) }
        try Versioned.update(plans, filter, version: plan.version, set: set, at: context.now)
        plan.version += 1
        plan.updatedAt = BSONValue.date(milliseconds: BSONValue.milliseconds(since1970: context.now))
        context.emit(.planUpdated, payload: try event(plan, fields: fields))
        return Answer(plan.resource)
    }

    /// No new subscriptions from now on; existing ones continue. Archiving twice changes nothing.
    @Sendable static func archive(_ context: CommandContext, _ payload: Commands.PlanArchive.Payload) throws -> Answer<Plan> {
        let access = Access(context.envelope.principal)
        let id = try ResourceID.path(payload.path.id, prefix: PlanService.idPrefix, what: "plan")
        try access.require(staff, to: "archive plans")
        let plans = context.transaction.collection(PlanService.collection, as: PlanDocument.self)
        guard let filter = access.scope(["_id": .string(id)]), var plan = try plans.findOne(filter) else {
            throw Problem.notFound("plan")
        }
        guard plan.active else { return Answer(plan.resource) }
        try Versioned.update(
            plans, filter, version: plan.version,
            set: ["active": false, "archived_at": .datetime(millisecondsOf: context.now)], at: context.now)
        plan.active = false
        plan.archivedAt = BSONValue.date(milliseconds: BSONValue.milliseconds(since1970: context.now))
        plan.updatedAt = plan.archivedAt!
        plan.version += 1
        context.emit(.planArchived, payload: try event(plan))
        return Answer(plan.resource)
    }

    // MARK: Reads

    @Sendable static func get(_ envelope: Envelope, _ context: ReadContext, _ payload: Commands.PlanGet.Payload) async throws
        -> Answer<Plan>
    {
        let id = try ResourceID.path(payload.path.id, prefix: PlanService.idPrefix, what: "plan")
        // Plans are the tenant's catalogue: every principal of the tenant may read any of them.
        let plans = context.database.collection(PlanService.collection, as: PlanDocument.self)
        guard let plan = try await plans.findOne(["_id": .string(id), "tenant_id": .string(envelope.principal.tenant)])
        else { throw Problem.notFound("plan") }
        return Answer(plan.resource)
    }

    /// Active plans, newest first, for anyone (no login needed); staff may ask for archived ones with `active=false`.
    @Sendable static func list(_ envelope: Envelope, _ context: ReadContext, _ payload: Commands.PlanList.Payload) async throws
        -> Answer<Page<Plan>>
    {
        let page = PageRequest(payload.query.page)
        let active = payload.query.filters.active ?? true
        if !active { try Access(envelope.principal).require(staff, to: "list archived plans") }
        let plans = context.database.collection(PlanService.collection, as: PlanDocument.self)
        let found = try await page.find(plans, ["tenant_id": .string(envelope.principal.tenant), "active": .bool(active)])
        return Answer(page.page(found) { $0.resource })
    }

    // MARK: Fields

    /// A price ≥ 0 with at most the currency's minor-unit digits (`"19.999"` USD and `"100.5"` JPY are refused).
    static func checkedPrice(_ text: String, currency: Currency, param: String) throws(Problem) -> Decimal {
        do {
            return try Money(parsing: text, currency).amount
        } catch .tooPrecise {
            let digits = currency.exponent == 0 ? "no decimal places" : "at most \(currency.exponent) decimal places"
            throw Problem.invalid(
                param,
                param == "price"
                    ? "price has more decimal places than \(currency.code) allows: \(currency.code) prices take \(digits)"
                    : "the plan's price does not fit \(currency.code), which takes \(digits); send a new price with it")
        } catch .negative {
            throw Problem.invalid(param, "price must be zero or more")
        } catch {
            throw Problem.invalid(param, "price must be a decimal string such as \"19.99\"")
        }
    }

    static func event(_ plan: PlanDocument, fields: [String]? = nil) throws -> JSONValue {
        var payload: [String: JSONValue] = [
            "id": .string(plan.id), "tenant_id": .string(plan.tenantID), "plan": try ValueEncoder.encode(plan.resource),
        ]
        if let fields { payload["fields"] = .array(fields.map(JSONValue.string)) }
        return .object(payload)
    }
}
