import BillingDomain
import Contracts
import Foundation
import MessageBus
import Mongo
import ServiceKit
import WorkerRuntime

/// The `subscription` worker: subscriptions and test clocks, and the transitions the scheduler sends.
public enum SubscriptionService {
    public static let name = "subscription"
    static let staff: Set<Principal.Role> = [.admin, .service, .system]

    public static func registry(_ engine: BillingEngine) -> HandlerRegistry {
        var registry = HandlerRegistry()
        registry.write(Commands.SubscriptionCreate.self) { context in try create(context, engine) }
        registry.read(Commands.SubscriptionGet.self) { envelope, context in try await get(envelope, context) }
        registry.read(Commands.SubscriptionList.self) { envelope, context in try await list(envelope, context) }
        registry.write(Commands.SubscriptionUpdate.self) { context in try update(context, engine) }
        registry.write(Commands.SubscriptionChangePlan.self) { context in
            try mutate(context, engine, allowing: ["plan_id", "proration"]) { subscription, body, now in
                try staffOnly(context, body, ["proration"])
                let planID = try body.string("plan_id", required: true, minLength: 1, maxLength: 64) ?? ""
                let proration = try body.string("proration", maxLength: 40) ?? "create_prorations"
                guard ["create_prorations", "none"].contains(proration) else {
                    throw Problem.invalid("proration", "must be create_prorations or none")
                }
                guard let plan = try engine.plan(context.transaction, tenant: subscription.tenantID, id: planID) else {
                    throw Problem.notFound("plan \(planID)")
                }
                try engine.changePlan(context, &subscription, to: plan, prorate: proration == "create_prorations", at: now)
            }
        }
        registry.write(Commands.SubscriptionCancel.self) { context in
            try mutate(context, engine, allowing: ["at_period_end", "prorate"]) { subscription, body, now in
                try staffOnly(context, body, ["prorate"])
                let atPeriodEnd = try body.bool("at_period_end") ?? false
                let prorate = try body.bool("prorate") ?? false
                try engine.cancel(context, &subscription, atPeriodEnd: atPeriodEnd, prorate: prorate, at: now)
            }
        }
        registry.write(Commands.SubscriptionPause.self) { context in
            try pausing(context, engine)
            return try mutate(context, engine, allowing: []) { subscription, _, now in try engine.pause(context, &subscription, at: now) }
        }
        registry.write(Commands.SubscriptionResume.self) { context in
            try pausing(context, engine)
            return try mutate(context, engine, allowing: []) { subscription, _, now in try engine.resume(context, &subscription, at: now) }
        }
        // Sent by the scheduler (role system), with ids derived from (subscription, due time, action).
        for action in DueAction.Kind.subscriptionKinds {
            registry.write(action.command) { context in try scheduled(context, engine, action) }
        }
        TestClocks.register(&registry, engine)
        return registry
    }

    static func create(_ context: CommandContext, _ engine: BillingEngine) throws -> HandlerResult {
        let access = Access(context.envelope.principal)
        let input = try CommandInput(context.envelope.payload)
        let body = try input.body(allowing: ["customer_id", "plan_id", "default_payment_method", "trial_days", "metadata"])
        var customerID = try body.string("customer_id", maxLength: 64)
        if access.principal.role == .customer {
            // A customer subscribes itself; naming anyone else finds nothing.
            if let customerID, customerID != access.principal.customerID { throw Problem.notFound("customer \(customerID)") }
            customerID = access.principal.customerID
        }
        guard let customerID else { throw Problem.invalid("customer_id", "is required") }
        // A customer gets the plan's trial; a longer, shorter or extra one is the merchant's to give.
        try staffOnly(context, body, ["trial_days"])
        let request = BillingEngine.NewSubscription(
            customerID: customerID,
            planID: try body.string("plan_id", required: true, minLength: 1, maxLength: 64) ?? "",
            paymentMethod: try body.string("default_payment_method", maxLength: 64),
            trialDays: try body.int("trial_days", in: 0...730), metadata: try body.metadata("metadata") ?? [:])
        let subscription = try engine.createSubscription(context, tenant: access.tenant, request)
        return HandlerResult(status: 201, body: subscription.json)
    }

    /// Refuses a customer's pause or resume unless the merchant lets customers pause.
    static func pausing(_ context: CommandContext, _ engine: BillingEngine) throws {
        guard context.envelope.principal.role == .customer, !engine.customersMayPause else { return }
        throw Problem.forbidden("pausing a subscription is the merchant's to do here; ask support")
    }

    /// Refuses `fields` from a customer: proration and trial choices move money, so only admins and
    /// service clients make them (a customer gets the defaults: prorated changes, no credit on
    /// cancel, the plan's trial).
    static func staffOnly(_ context: CommandContext, _ body: FieldReader, _ fields: [String]) throws {
        guard context.envelope.principal.role == .customer else { return }
        if let field = fields.first(where: body.names.contains) {
            throw Problem.forbidden("\(field) is set by the merchant, not by a customer", param: field)
        }
    }

    static func get(_ envelope: Envelope, _ context: ReadContext) async throws -> HandlerResult {
        let access = Access(envelope.principal)
        let id = try CommandInput(envelope.payload).pathID(prefix: "sub", what: "subscription")
        guard
            let subscription = try await context.database.collection(
                BillingCollections.subscriptions, as: SubscriptionDocument.self
            ).findOne(try access.one(id, what: "subscription"))
        else { throw Problem.notFound("subscription") }
        return HandlerResult(body: subscription.json)
    }

    static func list(_ envelope: Envelope, _ context: ReadContext) async throws -> HandlerResult {
        let access = Access(envelope.principal)
        let query = try CommandInput(envelope.payload).query(allowing: PageRequest.parameters.union(["customer_id", "status"]))
        let page = try PageRequest(query)
        var filter = BSONDocument()
        if let customer = try query.string("customer_id", maxLength: 64) { filter["customer_id"] = .string(customer) }
        if let status = try query.string("status", maxLength: 40) {
            guard SubscriptionStatus(rawValue: status) != nil else { throw Problem.invalid("status", "unknown status '\(status)'") }
            filter["status"] = .string(status)
        }
        guard let scoped = access.scope(filter) else { return HandlerResult(body: PageRequest.list([], hasMore: false)) }
        let found = try await page.find(
            context.database.collection(BillingCollections.subscriptions, as: SubscriptionDocument.self), scoped)
        return HandlerResult(body: page.page(found) { $0.json })
    }

    static func update(_ context: CommandContext, _ engine: BillingEngine) throws -> HandlerResult {
        try mutate(context, engine, allowing: ["default_payment_method", "metadata"]) { subscription, body, now in
            if let method = try body.string("default_payment_method", maxLength: 64) {
                guard
                    try engine.paymentMethod(
                        context.transaction, tenant: subscription.tenantID, customer: subscription.customerID, id: method)
                        != nil
                else { throw Problem.invalid("default_payment_method", "no such payment method for this customer") }
                subscription.defaultPaymentMethod = method
            }
            if let metadata = try body.metadata("metadata") { subscription.metadata = metadata }
            try engine.save(context.transaction, &subscription, at: now)
            context.emit(.subscriptionUpdated, payload: BillingEngine.eventPayload(subscription))
        }
    }

    /// Loads the subscription in scope, runs `change` at the customer's time, answers the result.
    static func mutate(
        _ context: CommandContext, _ engine: BillingEngine, allowing fields: Set<String>,
        _ change: (inout SubscriptionDocument, FieldReader, Date) throws -> Void
    ) throws -> HandlerResult {
        let access = Access(context.envelope.principal)
        let input = try CommandInput(context.envelope.payload)
        let id = try input.pathID(prefix: "sub", what: "subscription")
        let body = try input.body(allowing: fields)
        guard
            var subscription = try context.transaction.collection(
                BillingCollections.subscriptions, as: SubscriptionDocument.self
            ).findOne(try access.one(id, what: "subscription"))
        else { throw Problem.notFound("subscription") }
        let now = try engine.time(of: subscription, context.transaction, default: context.now)
        try change(&subscription, body, now)
        return HandlerResult(body: subscription.json)
    }

    static func scheduled(_ context: CommandContext, _ engine: BillingEngine, _ kind: DueAction.Kind) throws -> HandlerResult {
        guard context.envelope.principal.role == .system else {
            throw Problem(status: 403, code: "forbidden", title: "Forbidden", detail: "only the scheduler sends \(kind)")
        }
        let payload = context.envelope.payload
        guard let id = payload["id"]?.stringValue, let dueText = payload["due_at"]?.stringValue,
            let due = MessageCoding.parseTimestamp(dueText)
        else { throw Problem.invalid("id", "a scheduled command needs id and due_at") }
        let applied = try engine.apply(
            DueAction(kind: kind, id: id, tenant: context.envelope.principal.tenant, due: due), context,
            at: max(due, context.now))
        return HandlerResult(body: .object(["applied": .bool(applied)]))
    }
}

extension BillingEngine {
    /// A subscription's "now": its test clock's frozen time, or the billing clock.
    func time(of subscription: SubscriptionDocument, _ txn: MongoTransaction, default time: Date) throws -> Date {
        guard let clock = subscription.testClock,
            let frozen = try txn.collection(BillingCollections.testClocks, as: TestClockDocument.self).findOne([
                "_id": .string(clock)
            ])
        else { return time }
        return frozen.frozenTime
    }
}
