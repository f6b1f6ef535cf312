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
        registry.write(Commands.SubscriptionCreate.self) { context, payload in try create(context, engine, payload.body) }
        registry.read(Commands.SubscriptionGet.self) { envelope, context, payload in try await get(envelope, context, payload) }
        registry.read(Commands.SubscriptionList.self) { envelope, context, payload in try await list(envelope, context, payload) }
        registry.write(Commands.SubscriptionUpdate.self) { context, payload in
            try mutate(context, engine, payload.path) { subscription, now in
                try update(context, engine, &subscription, payload.body, at: now)
            }
        }
        registry.write(Commands.SubscriptionChangePlan.self) { context, payload in
            let change = payload.body
            try staffOnly(context, ["proration": change.proration != nil])
            return try mutate(context, engine, payload.path) { subscription, now in
                let planID = change.planID.value
                guard let plan = try engine.plan(context.transaction, tenant: subscription.tenantID, id: planID) else {
                    throw Problem.notFound("plan \(planID)")
                }
                let prorate = (change.proration ?? .createProrations) == .createProrations
                try engine.changePlan(context, &subscription, to: plan, prorate: prorate, at: now)
            }
        }
        registry.write(Commands.SubscriptionCancel.self) { context, payload in
            let cancellation = payload.body
            try staffOnly(context, ["prorate": cancellation.prorate != nil])
            return try mutate(context, engine, payload.path) { subscription, now in
                try engine.cancel(
                    context, &subscription, atPeriodEnd: cancellation.atPeriodEnd ?? false,
                    prorate: cancellation.prorate ?? false, at: now)
            }
        }
        registry.write(Commands.SubscriptionPause.self) { context, payload in
            try pausing(context, engine)
            return try mutate(context, engine, payload.path) { subscription, now in try engine.pause(context, &subscription, at: now) }
        }
        registry.write(Commands.SubscriptionResume.self) { context, payload in
            try pausing(context, engine)
            return try mutate(context, engine, payload.path) { subscription, now in try engine.resume(context, &subscription, at: now) }
        }
        // Sent by the scheduler (role system), with ids derived from (subscription, due time, action).
        registry.write(Commands.SubscriptionRenew.self) { context in try scheduled(context, engine, .renew) }
        registry.write(Commands.SubscriptionEndTrial.self) { context in try scheduled(context, engine, .endTrial) }
        registry.write(Commands.SubscriptionNoticeTrialEnd.self) { context in try scheduled(context, engine, .noticeTrialEnd) }
        registry.write(Commands.SubscriptionExpireIncomplete.self) { context in
            try scheduled(context, engine, .expireIncomplete)
        }
        TestClocks.register(&registry, engine)
        return registry
    }

    static func create(_ context: CommandContext, _ engine: BillingEngine, _ draft: SubscriptionDraft) throws -> Answer<Subscription> {
        let access = Access(context.envelope.principal)
        var customerID = draft.customerID?.value
        if access.principal.role == .customer {
            // A customer subscribes itself; naming anyone else finds nothing.
            if let customerID, customerID != access.principal.customerID { throw Problem.notFound("customer \(customerID)") }
            customerID = access.principal.customerID
        }
        guard let customerID else { throw Problem.invalid("customer_id", "customer_id is required") }
        // A customer gets the plan's trial; a longer, shorter or extra one is the merchant's to give.
        // A customer may bring a coupon to its checkout; its taxes are the merchant's.
        try staffOnly(
            context,
            [
                "trial_days": draft.trialDays != nil, "default_tax_rates": draft.defaultTaxRates != nil,
                "collection_method": draft.collectionMethod != nil, "days_until_due": draft.daysUntilDue != nil,
            ])
        let request = BillingEngine.NewSubscription(
            customerID: customerID, planID: draft.planID.value, paymentMethod: draft.defaultPaymentMethod?.value,
            trialDays: draft.trialDays?.value, metadata: draft.metadata?.values ?? [:], coupon: draft.coupon?.value,
            taxRates: draft.defaultTaxRates?.values.map(\.value), collectionMethod: draft.collectionMethod,
            daysUntilDue: draft.daysUntilDue?.value)
        let subscription = try engine.createSubscription(context, tenant: access.tenant, request)
        return Answer(status: 201, subscription.resource)
    }

    /// Refuses a customer's pause or resume unless the merchant lets customers pause.
    static func pausing(_ context: CommandContext, _ engine: BillingEngine) throws {
        guard context.envelope.principal.role == .customer, !engine.customersMayPause else { return }
        throw Problem.forbidden("pausing a subscription is the merchant's to do here; ask support")
    }

    /// Refuses the `sent` fields from a customer: proration and trial choices move money, so only
    /// admins and service clients make them (a customer gets the defaults: prorated changes, no
    /// credit on cancel, the plan's trial).
    static func staffOnly(_ context: CommandContext, _ sent: KeyValuePairs<String, Bool>) throws {
        guard context.envelope.principal.role == .customer else { return }
        if let (field, _) = sent.first(where: { $0.value }) {
            throw Problem.forbidden("\(field) is set by the merchant, not by a customer", param: field)
        }
    }

    static func get(_ envelope: Envelope, _ context: ReadContext, _ payload: Commands.SubscriptionGet.Payload) async throws
        -> Answer<Subscription>
    {
        let access = Access(envelope.principal)
        let id = try ResourceID.path(payload.path.id, prefix: "sub", what: "subscription")
        guard
            let subscription = try await context.database.collection(
                BillingCollections.subscriptions, as: SubscriptionDocument.self
            ).findOne(try access.one(id, what: "subscription"))
        else { throw Problem.notFound("subscription") }
        return Answer(subscription.resource)
    }

    static func list(_ envelope: Envelope, _ context: ReadContext, _ payload: Commands.SubscriptionList.Payload) async throws
        -> Answer<Page<Subscription>>
    {
        let access = Access(envelope.principal)
        let page = PageRequest(payload.query.page)
        let filters = payload.query.filters
        var filter = BSONDocument()
        if let customer = filters.customerID?.value { filter["customer_id"] = .string(customer) }
        if let status = filters.status { filter["status"] = .string(status.rawValue) }
        guard let scoped = access.scope(filter) else { return Answer(.empty) }
        let found = try await page.find(
            context.database.collection(BillingCollections.subscriptions, as: SubscriptionDocument.self), scoped)
        return Answer(page.page(found) { $0.resource })
    }

    static func update(
        _ context: CommandContext, _ engine: BillingEngine, _ subscription: inout SubscriptionDocument,
        _ changes: SubscriptionChanges, at now: Date
    ) throws {
        // Discounts and taxes after checkout are the merchant's (a customer re-applying a coupon
        // would spend it again and again).
        try staffOnly(
            context,
            [
                "coupon": changes.coupon != nil, "default_tax_rates": changes.defaultTaxRates != nil,
                "collection_method": changes.collectionMethod != nil, "days_until_due": changes.daysUntilDue != nil,
            ])
        if changes.collectionMethod != nil || changes.daysUntilDue != nil {
            (subscription.collectionMethod, subscription.daysUntilDue) = try BillingEngine.terms(
                changes.collectionMethod, changes.daysUntilDue?.value,
                current: (subscription.collectionMethod, subscription.daysUntilDue))
        }
        if let method = changes.defaultPaymentMethod?.value {
            guard
                try engine.paymentMethod(
                    context.transaction, tenant: subscription.tenantID, customer: subscription.customerID, id: method)
                    != nil
            else { throw Problem.invalid("default_payment_method", "no such payment method for this customer") }
            subscription.defaultPaymentMethod = method
        }
        if let metadata = changes.metadata?.values { subscription.metadata = metadata }
        if let ids = changes.defaultTaxRates?.values.map(\.value) {
            subscription.defaultTaxRates = try engine.taxRates(
                context.transaction, ids: ids, tenant: subscription.tenantID, field: "default_tax_rates"
            ).map(\.id)
        }
        if let coupon = changes.coupon?.value {
            if coupon.isEmpty {
                subscription.discount = nil
            } else if coupon != subscription.discount?.coupon {
                subscription.discount = try engine.redeem(
                    context.transaction, coupon: coupon, tenant: subscription.tenantID, currency: subscription.currencyValue,
                    at: now)
            }
        }
        try engine.save(context.transaction, &subscription, at: now)
        context.emit(.subscriptionUpdated, payload: BillingEngine.eventPayload(subscription))
    }

    /// Loads the subscription in scope, runs `change` at the customer's time, answers the result.
    static func mutate(
        _ context: CommandContext, _ engine: BillingEngine, _ path: IDPath,
        _ change: (inout SubscriptionDocument, Date) throws -> Void
    ) throws -> Answer<Subscription> {
        let access = Access(context.envelope.principal)
        let id = try ResourceID.path(path.id, prefix: "sub", what: "subscription")
        guard
            var subscription = try context.transaction.collection(
                BillingCollections.subscriptions, as: SubscriptionDocument.self
            ).findOne(try access.one(id, what: "subscription"))
        else { throw Problem.notFound("subscription") }
        let now = try engine.time(of: subscription, context.transaction, default: context.now)
        try change(&subscription, now)
        return Answer(subscription.resource)
    }

    static func scheduled(_ context: CommandContext, _ engine: BillingEngine, _ kind: DueAction.Kind) throws
        -> Answer<ScheduledWorkOutcome>
    {
        guard context.envelope.principal.role == .system else {
            throw Problem(status: 403, code: "forbidden", title: "Forbidden", detail: "only the scheduler sends \(kind)")
        }
        let work = try PayloadDecoder.decode(DueWork.self, from: context.envelope.payload)
        let applied = try engine.apply(
            DueAction(kind: kind, id: work.id, tenant: context.envelope.principal.tenant, due: work.dueAt), context,
            at: max(work.dueAt, context.now))
        return Answer(ScheduledWorkOutcome(applied: applied))
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
