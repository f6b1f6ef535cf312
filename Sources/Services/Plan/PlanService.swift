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
    static let editable: Set<String> = [
        "name", "description", "price", "currency", "interval", "interval_count", "trial_days", "features", "metadata",
    ]

    // MARK: Writes

    @Sendable static func create(_ context: CommandContext) throws -> HandlerResult {
        let access = Access(context.envelope.principal)
        try access.require(staff, to: "create plans")
        let body = try CommandInput(context.envelope.payload).body(allowing: editable)
        let name = try body.string("name", required: true, minLength: 1, maxLength: 200)!
        let description = try body.string("description", maxLength: 2000)
        let currency = try currency(body, required: true)!
        let price = try price(body, currency: currency, required: true)!
        let interval = try body.choice("interval", PlanInterval.self, required: true)!
        let plan = PlanDocument(
            id: ResourceID.make(PlanService.idPrefix, at: context.now), tenantID: access.tenant, name: name,
            description: description, price: price, currency: currency.code, interval: interval,
            intervalCount: try body.int("interval_count", in: 1...365) ?? 1, trialDays: try body.int("trial_days", in: 0...730) ?? 0,
            features: try features(body) ?? [], metadata: try body.metadata("metadata") ?? [:], active: true,
            archivedAt: nil, createdAt: context.now, updatedAt: context.now, version: 1)
        try context.transaction.collection(PlanService.collection, as: PlanDocument.self).insertOne(plan)
        context.emit(.planCreated, payload: event(plan))
        return HandlerResult(status: 201, body: plan.json)
    }

    @Sendable static func update(_ context: CommandContext) throws -> HandlerResult {
        let access = Access(context.envelope.principal)
        let input = try CommandInput(context.envelope.payload)
        let id = try input.pathID(prefix: PlanService.idPrefix, what: "plan")
        try access.require(staff, to: "change plans")
        let body = try input.body(allowing: editable)
        let plans = context.transaction.collection(PlanService.collection, as: PlanDocument.self)
        guard let filter = access.scope(["_id": .string(id)]), var plan = try plans.findOne(filter) else {
            throw Problem.notFound("plan")
        }
        var set = BSONDocument()
        var fields: [String] = []
        func change(_ field: String, _ value: BSONValue) {
            set[field] = value
            fields.append(field)
        }
        if let name = try body.string("name", minLength: 1, maxLength: 200), name != plan.name {
            plan.name = name
            change("name", .string(name))
        }
        if let description = try body.string("description", maxLength: 2000), description != plan.description {
            plan.description = description
            change("description", .string(description))
        }
        // Terms: a new price is checked against the currency it will have, and a new currency
        // without a new price against the stored price.
        let newCurrency = try currency(body, required: false)
        if let currency = newCurrency ?? Currency(code: plan.currency) {
            if let price = try price(body, currency: currency, required: false) {
                if price != plan.price {
                    plan.price = price
                    change("price", .decimal128(price))
                }
            } else if newCurrency != nil {
                _ = try checkedPrice(DocumentJSON.decimal(plan.price), currency: currency, param: "currency")
            }
        }
        if let newCurrency, newCurrency.code != plan.currency {
            plan.currency = newCurrency.code
            change("currency", .string(newCurrency.code))
        }
        if let interval = try body.choice("interval", PlanInterval.self), interval != plan.interval {
            plan.interval = interval
            change("interval", .string(interval.rawValue))
        }
        if let count = try body.int("interval_count", in: 1...365), count != plan.intervalCount {
            plan.intervalCount = count
            change("interval_count", .int(count))
        }
        if let trialDays = try body.int("trial_days", in: 0...730), trialDays != plan.trialDays {
            plan.trialDays = trialDays
            change("trial_days", .int(trialDays))
        }
        if let features = try features(body), features != plan.features {
            plan.features = features
            change("features", .array(features.map(BSONValue.string)))
        }
        if let changes = try body.metadata("metadata") {
            var merged = plan.metadata
            for (key, value) in changes { merged[key] = value.isEmpty ? nil : value }
            if merged.count > FieldReader.metadataMaxKeys {
                throw Problem.invalid("metadata", "metadata takes at most \(FieldReader.metadataMaxKeys) keys")
            }
            if merged != plan.metadata {
                plan.metadata = merged
                change("metadata", .document(BSONDocument(merged.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
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
        guard !fields.isEmpty else { return HandlerResult(body: plan.json) }
        try Versioned.update(plans, filter, version: plan.version, set: set, at: context.now)
        plan.version += 1
        plan.updatedAt = BSONValue.date(milliseconds: BSONValue.milliseconds(since1970: context.now))
        context.emit(.planUpdated, payload: event(plan, fields: fields))
        return HandlerResult(body: plan.json)
    }

    /// No new subscriptions from now on; existing ones continue. Archiving twice changes nothing.
    @Sendable static func archive(_ context: CommandContext) throws -> HandlerResult {
        let access = Access(context.envelope.principal)
        let input = try CommandInput(context.envelope.payload)
        let id = try input.pathID(prefix: PlanService.idPrefix, what: "plan")
        try access.require(staff, to: "archive plans")
        _ = try input.body(allowing: [])
        let plans = context.transaction.collection(PlanService.collection, as: PlanDocument.self)
        guard let filter = access.scope(["_id": .string(id)]), var plan = try plans.findOne(filter) else {
            throw Problem.notFound("plan")
        }
        guard plan.active else { return HandlerResult(body: plan.json) }
        try Versioned.update(
            plans, filter, version: plan.version,
            set: ["active": false, "archived_at": .datetime(millisecondsOf: context.now)], at: context.now)
        plan.active = false
        plan.archivedAt = BSONValue.date(milliseconds: BSONValue.milliseconds(since1970: context.now))
        plan.updatedAt = plan.archivedAt!
        plan.version += 1
        context.emit(.planArchived, payload: event(plan))
        return HandlerResult(body: plan.json)
    }

    // MARK: Reads

    @Sendable static func get(_ envelope: Envelope, _ context: ReadContext) async throws -> HandlerResult {
        let input = try CommandInput(envelope.payload)
        _ = try input.query(allowing: [])
        let id = try input.pathID(prefix: PlanService.idPrefix, what: "plan")
        // Plans are the tenant's catalogue: every principal of the tenant may read any of them.
        let plans = context.database.collection(PlanService.collection, as: PlanDocument.self)
        guard let plan = try await plans.findOne(["_id": .string(id), "tenant_id": .string(envelope.principal.tenant)])
        else { throw Problem.notFound("plan") }
        return HandlerResult(body: plan.json)
    }

    /// Active plans, newest first, for anyone (no login needed); staff may ask for archived ones with `active=false`.
    @Sendable static func list(_ envelope: Envelope, _ context: ReadContext) async throws -> HandlerResult {
        let input = try CommandInput(envelope.payload)
        let query = try input.query(allowing: PageRequest.parameters.union(["active"]))
        let page = try PageRequest(query)
        let active = try query.bool("active") ?? true
        if !active { try Access(envelope.principal).require(staff, to: "list archived plans") }
        let plans = context.database.collection(PlanService.collection, as: PlanDocument.self)
        let found = try await page.find(plans, ["tenant_id": .string(envelope.principal.tenant), "active": .bool(active)])
        return HandlerResult(body: page.page(found) { $0.json })
    }

    // MARK: Fields

    static func currency(_ body: FieldReader, required: Bool) throws(Problem) -> Currency? {
        guard let code = try body.string("currency", required: required, minLength: 1, maxLength: 64) else {
            return nil
        }
        guard code.count == 3, code.allSatisfy({ $0.isASCII && $0.isUppercase }), let currency = Currency(code: code) else {
            throw Problem.invalid("currency", "currency must be an ISO 4217 code in capitals, such as USD, EUR or JPY")
        }
        return currency
    }

    static func price(_ body: FieldReader, currency: Currency, required: Bool) throws(Problem) -> Decimal? {
        guard let text = try body.decimalString("price", required: required) else { return nil }
        return try checkedPrice(text, currency: currency, param: "price")
    }

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

    static func features(_ body: FieldReader) throws(Problem) -> [String]? {
        try body.strings("features", maxItems: 100, maxLength: 200)
    }

    static func event(_ plan: PlanDocument, fields: [String]? = nil) -> JSONValue {
        var payload: [String: JSONValue] = ["id": .string(plan.id), "tenant_id": .string(plan.tenantID), "plan": plan.json]
        if let fields { payload["fields"] = .array(fields.map(JSONValue.string)) }
        return .object(payload)
    }
}
