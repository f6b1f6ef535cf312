import BillingDomain
import Contracts
import Foundation
import MessageBus
import Mongo
import ServiceKit
import WorkerRuntime

// `GET /v1/invoices/upcoming` (DESIGN §13): the next invoice of a subscription, or the one a plan
// change would make now, computed by the code that issues invoices and written nowhere.

extension BillingEngine {
    func upcoming(_ txn: MongoTransaction, _ stored: SubscriptionDocument, plan: PlanView?, at now: Date) throws -> UpcomingInvoice {
        var subscription = stored
        if let plan {
            // What a customer's change would do: prorated (the default).
            if let lines = try switchPlan(&subscription, to: plan, prorate: true, at: now) {
                return try preview(txn, subscription, lines: lines, reason: "subscription_update", at: now)
            }
        }
        guard !subscription.cancelAtPeriodEnd else { throw Self.noUpcoming("it is set to cancel at the end of its period") }
        switch subscription.status {
        case .active, .pastDue:
            let cycle = try subscription.cycle()
            guard let index = cycle.periodIndex(containing: subscription.currentPeriodEnd) else {
                throw Self.noUpcoming("it has no next period")
            }
            let next = cycle.period(index)
            return try preview(
                txn, subscription, lines: [try Self.periodLine(subscription, next)] + (try pendingLines(txn, subscription, at: next.start)),
                reason: "subscription_cycle", at: next.start)
        case .trialing:
            guard let trialEnd = subscription.trialEnd else { throw Self.noUpcoming("its trial has no end") }
            subscription.billingCycleAnchor = trialEnd
            let first = try subscription.cycle().period(0)
            return try preview(
                txn, subscription, lines: [try Self.periodLine(subscription, first)] + (try pendingLines(txn, subscription, at: trialEnd)),
                reason: "subscription_cycle", at: trialEnd)
        default:
            throw Self.noUpcoming("it is \(subscription.status.rawValue)")
        }
    }

    /// The pending one-off items the cycle invoice would carry.
    func pendingLines(_ txn: MongoTransaction, _ subscription: SubscriptionDocument, at time: Date) throws -> [InvoiceLine] {
        try pendingItems(
            txn, tenant: subscription.tenantID, customer: subscription.customerID, currency: subscription.currencyValue,
            subscription: subscription.id
        ).map { try $0.line(at: time) }
    }

    static func noUpcoming(_ why: String) -> Problem {
        Problem(status: 404, code: "invoice_upcoming_none", title: "Not found", detail: "the subscription has no upcoming invoice: \(why)")
    }

    func preview(_ txn: MongoTransaction, _ subscription: SubscriptionDocument, lines: [InvoiceLine], reason: String, at time: Date)
        throws -> UpcomingInvoice
    {
        let currency = subscription.currencyValue
        let credit = try credit(txn, tenant: subscription.tenantID, customer: subscription.customerID, currency: currency)
        let (totals, names) = try totals(txn, subscription, lines: lines, currency: currency, credit: credit, at: time)
        return UpcomingInvoice(
            customerID: subscription.customerID, subscriptionID: subscription.id, billingReason: reason, issuesAt: time,
            lines: totals.lines.map { InvoiceLineDocument($0, names: names).resource(currency) },
            subtotal: totals.subtotal, discountAmount: totals.discountAmount,
            totalDiscountAmounts: Self.discountAmounts(totals, subscription.discount).map {
                InvoiceDiscountAmount(coupon: $0.coupon, amount: Money($0.amount, currency))
            },
            tax: totals.tax, totalTaxAmounts: totals.totalTaxAmounts.map { TaxAmountDocument($0, names: names).resource(currency) },
            total: totals.total, creditApplied: totals.creditApplied, amountDue: totals.amountDue)
    }
}

enum Upcoming {
    static func register(_ registry: inout HandlerRegistry, _ engine: BillingEngine) {
        registry.read(Commands.InvoiceUpcoming.self) { envelope, context, payload in
            let access = Access(envelope.principal)
            let id = try ResourceID.path(payload.query.subscription.value, prefix: "sub", what: "subscription")
            let filter = try access.one(id, what: "subscription")
            let planID = payload.query.plan?.value
            // One snapshot for everything the preview reads; it writes nothing.
            let upcoming = try await context.database.withTransaction { txn in
                guard let subscription = try txn.collection(BillingCollections.subscriptions, as: SubscriptionDocument.self)
                    .findOne(filter)
                else { throw Problem.notFound("subscription") }
                var plan: PlanView?
                if let planID {
                    guard let found = try engine.plan(txn, tenant: subscription.tenantID, id: planID) else {
                        throw Problem.notFound("plan \(planID)")
                    }
                    plan = found
                }
                let now = try engine.time(of: subscription, txn, default: context.now)
                return try engine.upcoming(txn, subscription, plan: plan, at: now)
            }
            return Answer(upcoming)
        }
    }
}
