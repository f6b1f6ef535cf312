import BillingDomain
import Contracts
import Foundation
import MessageBus
import Mongo
import ServiceKit
import WorkerRuntime

/// Subscription transitions (DESIGN §6), each applied inside the caller's transaction.
extension BillingEngine {
    struct NewSubscription: Sendable {
        var customerID: String
        var planID: String
        var paymentMethod: String?
        var trialDays: Int?
        var metadata: [String: String]
        var coupon: String? = nil
        var taxRates: [String]? = nil
        var collectionMethod: CollectionMethod? = nil
        var daysUntilDue: Int? = nil
    }

    static func conflict(_ code: String, _ detail: String, param: String? = nil) -> Problem {
        Problem(status: 409, code: code, title: "Conflict", detail: detail, param: param)
    }

    /// The time the customer lives at: its test clock's frozen time, or the billing clock.
    func now(for customer: CustomerView, _ txn: MongoTransaction, default time: Date) throws -> Date {
        guard let clock = customer.testClock else { return time }
        guard
            let frozen = try txn.collection(BillingCollections.testClocks, as: TestClockDocument.self).findOne([
                "_id": .string(clock), "tenant_id": .string(customer.tenantID),
            ])
        else { throw Problem.invalid("customer_id", "the customer's test clock \(clock) does not exist") }
        return frozen.frozenTime
    }

    func createSubscription(_ context: CommandContext, tenant: String, _ request: NewSubscription) throws
        -> SubscriptionDocument
    {
        let txn = context.transaction
        guard let customer = try customer(txn, tenant: tenant, id: request.customerID) else {
            throw Problem.notFound("customer \(request.customerID)")
        }
        guard customer.status == "active" else {
            throw Self.conflict(
                "customer_not_active", "the customer is \(customer.status): it cannot subscribe", param: "customer_id")
        }
        guard let plan = try plan(txn, tenant: tenant, id: request.planID) else {
            throw Problem.notFound("plan \(request.planID)")
        }
        guard plan.active else {
            throw Self.conflict("plan_archived", "the plan is archived: it takes no new subscriptions", param: "plan_id")
        }
        guard let currency = Currency(code: plan.currency) else {
            throw Problem.invalid("plan_id", "the plan's currency \(plan.currency) is not billable")
        }
        let method = try paymentMethod(txn, tenant: tenant, customer: customer.id, id: request.paymentMethod)
        if request.paymentMethod != nil, method == nil {
            throw Problem.invalid("default_payment_method", "no such payment method for this customer")
        }
        let trialDays = request.trialDays ?? plan.trialDays
        let start = try now(for: customer, txn, default: context.now).wholeSecondsDown
        var subscription = SubscriptionDocument(
            id: ResourceID.make("sub", at: start), tenantID: tenant, customerID: customer.id, planID: plan.id,
            planName: plan.name, price: plan.price, currency: currency, interval: plan.interval,
            intervalCount: plan.intervalCount, status: .initial(withTrial: trialDays > 0), startDate: start,
            endDate: nil, billingCycleAnchor: start, currentPeriodStart: start, currentPeriodEnd: start, trialEnd: nil,
            trialWillEndSent: false, cancelAtPeriodEnd: false, canceledAt: nil, pausedAt: nil,
            defaultPaymentMethod: method?.id, latestInvoice: nil, metadata: request.metadata,
            testClock: customer.testClock, createdAt: start, updatedAt: start, version: 1)
        (subscription.collectionMethod, subscription.daysUntilDue) = try Self.terms(
            request.collectionMethod, request.daysUntilDue, current: (nil, nil))
        if trialDays == 0, method == nil, subscription.collection == .chargeAutomatically {
            throw Problem.invalid(
                "default_payment_method", "the customer has no payment method: add one (POST /v1/payment-methods) or give a trial")
        }
        if let ids = request.taxRates {
            subscription.defaultTaxRates = try taxRates(txn, ids: ids, tenant: tenant, field: "default_tax_rates").map(\.id)
        }
        if let coupon = request.coupon {
            subscription.discount = try redeem(txn, coupon: coupon, tenant: tenant, currency: currency, at: start)
        }
        var invoice: InvoiceDocument
        if trialDays > 0 {
            let trialEnd = start.addingTimeInterval(TimeInterval(trialDays * 86_400))
            subscription.trialEnd = trialEnd
            subscription.billingCycleAnchor = trialEnd
            subscription.currentPeriodEnd = trialEnd
            let line = try InvoiceLine(
                description: "Trial of \(plan.name)", period: BillingPeriod(start: start, end: trialEnd),
                unitAmount: Money(0, currency))
            invoice = try issueInvoice(
                context, customer: customer, subscription: subscription, lines: [line], currency: currency,
                reason: "subscription_create", paymentMethod: method?.id, at: start)
            subscription.latestInvoice = invoice.id
            subscription.settleDiscount(after: invoice)
        } else {
            invoice = try billPeriod(
                context, &subscription, try subscription.cycle().period(0), customer: customer, reason: "subscription_create",
                at: start)
            if invoice.status == .paid {
                subscription.status = try subscription.status.applying(.paymentSucceeded)
            } else if invoice.collectionMethod == .sendInvoice {
                subscription.status = try subscription.status.applying(.invoiceSent)
            }
        }
        try insert(txn, invoice)
        _ = try txn.collection(BillingCollections.subscriptions, as: SubscriptionDocument.self).insertOne(subscription)
        context.emit(.subscriptionCreated, payload: Self.eventPayload(subscription))
        return subscription
    }

    static func describe(_ period: BillingPeriod) -> String {
        "\(MessageCoding.formatTimestamp(period.start).prefix(10)) – \(MessageCoding.formatTimestamp(period.end).prefix(10))"
    }

    /// Makes `period` the subscription's current one and invoices it: one line for the plan over the
    /// period, issued (and charged with the default payment method) at `time`. Shared by create,
    /// renewal, trial end and resume; the caller applies the charge's outcome and inserts the invoice.
    func billPeriod(
        _ context: CommandContext, _ subscription: inout SubscriptionDocument, _ period: BillingPeriod,
        customer: CustomerView, reason: String = "subscription_cycle", at time: Date
    ) throws -> InvoiceDocument {
        subscription.currentPeriodStart = period.start
        subscription.currentPeriodEnd = period.end
        // The customer's pending one-off items ride on the cycle invoice.
        let items = try pendingItems(
            context.transaction, tenant: subscription.tenantID, customer: subscription.customerID,
            currency: subscription.currencyValue, subscription: subscription.id)
        let invoice = try issueInvoice(
            context, customer: customer, subscription: subscription,
            lines: [try Self.periodLine(subscription, period)] + (try items.map { try $0.line(at: time) }),
            currency: subscription.currencyValue,
            reason: reason, paymentMethod: subscription.defaultPaymentMethod, at: time)
        try claim(context.transaction, items, for: invoice.id, at: time)
        subscription.latestInvoice = invoice.id
        subscription.settleDiscount(after: invoice)
        return invoice
    }

    /// Checked net terms: `send_invoice` needs `days_until_due`, which goes with it only; unchanged
    /// parts keep `current`.
    static func terms(_ method: CollectionMethod?, _ days: Int?, current: (CollectionMethod?, Int?)) throws
        -> (CollectionMethod?, Int?)
    {
        let resolved = method ?? current.0 ?? .chargeAutomatically
        switch resolved {
        case .sendInvoice:
            guard let due = days ?? current.1 else {
                throw Problem.invalid("days_until_due", "days_until_due is required with collection_method send_invoice")
            }
            return (.sendInvoice, due)
        case .chargeAutomatically:
            if days != nil {
                throw Problem.invalid("days_until_due", "days_until_due goes with collection_method send_invoice only")
            }
            return (method == nil && current.0 == nil ? nil : .chargeAutomatically, nil)
        }
    }

    /// The plan's line for one period of the subscription.
    static func periodLine(_ subscription: SubscriptionDocument, _ period: BillingPeriod) throws -> InvoiceLine {
        try InvoiceLine(
            description: "\(subscription.planName) (\(describe(period)))", period: period, unitAmount: subscription.priceMoney)
    }

    /// The subscription's customer, or a stand-in for one deleted since (its invoices still go out).
    func billedCustomer(_ txn: MongoTransaction, _ subscription: SubscriptionDocument) throws -> CustomerView {
        try customer(txn, tenant: subscription.tenantID, id: subscription.customerID)
            ?? CustomerView(
                id: subscription.customerID, tenantID: subscription.tenantID, name: "", email: "", status: "deleted")
    }

    /// After a charge of a subscription's invoice: the subscription follows, and a failed renewal
    /// charge is scheduled for its next dunning retry (or dunning ends).
    func follow(
        _ context: CommandContext, _ subscription: inout SubscriptionDocument, _ invoice: inout InvoiceDocument,
        paid: Bool, at time: Date
    ) throws {
        let before = subscription.status
        // An invoice sent on net terms is paid by its due date; nothing failed.
        if !paid, invoice.collectionMethod == .sendInvoice { return }
        if paid {
            if subscription.status != .trialing, SubscriptionStatus.transition(from: subscription.status, on: .paymentSucceeded) != nil {
                subscription.status = try subscription.status.applying(.paymentSucceeded)
            }
        } else if subscription.status == .incomplete {
            // The first payment: no dunning; it expires after 23 h unless paid.
            invoice.nextPaymentAttempt = nil
        } else {
            if SubscriptionStatus.transition(from: subscription.status, on: .paymentFailed) != nil {
                subscription.status = try subscription.status.applying(.paymentFailed)
            }
            try scheduleRetry(context, &subscription, &invoice, at: time)
        }
        announce(context, subscription, from: before)
    }

    /// The dunning step after the invoice's latest failed attempt.
    func scheduleRetry(
        _ context: CommandContext, _ subscription: inout SubscriptionDocument, _ invoice: inout InvoiceDocument, at time: Date
    ) throws {
        try scheduleNextStep(&subscription, &invoice, after: invoice.attemptCount, next: \.nextPaymentAttempt, at: time)
    }

    /// The dunning step after `failures` failed charges (or overdue reminders): the next one's time,
    /// or dunning's end (the configured subscription outcome, the invoice uncollectible if so).
    func scheduleNextStep(
        _ subscription: inout SubscriptionDocument, _ invoice: inout InvoiceDocument, after failures: Int,
        next step: WritableKeyPath<InvoiceDocument, Date?>, at time: Date
    ) throws {
        switch dunning.step(afterFailure: failures, firstFailureAt: invoice.firstFailureAt ?? time) {
        case .retry(let next):
            invoice[keyPath: step] = next
        case .exhausted(let subscriptionEvent, let invoiceEvent):
            invoice[keyPath: step] = nil
            if let invoiceEvent { invoice.status = try invoice.status.applying(invoiceEvent) }
            if SubscriptionStatus.transition(from: subscription.status, on: subscriptionEvent) != nil {
                subscription.status = try subscription.status.applying(subscriptionEvent)
                if subscription.status == .canceled {
                    subscription.canceledAt = time
                    subscription.endDate = time
                }
            }
        }
    }

    /// The event for a status change, if the status changed.
    func announce(_ context: CommandContext, _ subscription: SubscriptionDocument, from before: SubscriptionStatus) {
        guard subscription.status != before else { return }
        switch subscription.status {
        case .pastDue: context.emit(.subscriptionPastDue, payload: Self.eventPayload(subscription))
        case .canceled, .incompleteExpired: context.emit(.subscriptionCanceled, payload: Self.eventPayload(subscription))
        default: context.emit(.subscriptionUpdated, payload: Self.eventPayload(subscription))
        }
    }

    // MARK: What the scheduler (or a test clock) drives

    /// The period starting where the current one ends, with its invoice and charge; or, when set to
    /// cancel at period end, the cancellation. Nothing when not due (a rerun, a second scheduler).
    func renew(_ context: CommandContext, tenant: String, id: String, at time: Date) throws -> Bool {
        let txn = context.transaction
        guard var subscription = try subscription(txn, tenant: tenant, id: id),
            [.active, .pastDue].contains(subscription.status), subscription.currentPeriodEnd <= time
        else { return false }
        let before = subscription.status
        let periodEnd = subscription.currentPeriodEnd
        if subscription.cancelAtPeriodEnd {
            subscription.status = try subscription.status.applying(.periodEndCancel)
            subscription.canceledAt = periodEnd
            subscription.endDate = periodEnd
            try save(txn, &subscription, at: time)
            announce(context, subscription, from: before)
            return true
        }
        let cycle = try subscription.cycle()
        guard let index = cycle.periodIndex(containing: periodEnd) else { return false }
        let next = cycle.period(index)
        subscription.status = try subscription.status.applying(.renewal)
        var invoice = try billPeriod(context, &subscription, next, customer: try billedCustomer(txn, subscription), at: next.start)
        try follow(context, &subscription, &invoice, paid: invoice.status == .paid, at: next.start)
        try insert(txn, invoice)
        try save(txn, &subscription, at: time)
        context.emit(.subscriptionRenewed, payload: Self.eventPayload(subscription))
        return true
    }

    /// The trial is over: the first real period (anchored on the trial end), invoiced and charged.
    func endTrial(_ context: CommandContext, tenant: String, id: String, at time: Date) throws -> Bool {
        let txn = context.transaction
        guard var subscription = try subscription(txn, tenant: tenant, id: id), subscription.status == .trialing,
            let trialEnd = subscription.trialEnd, trialEnd <= time
        else { return false }
        let before = subscription.status
        if subscription.cancelAtPeriodEnd {
            subscription.status = try subscription.status.applying(.periodEndCancel)
            subscription.canceledAt = trialEnd
            subscription.endDate = trialEnd
            try save(txn, &subscription, at: time)
            announce(context, subscription, from: before)
            return true
        }
        subscription.billingCycleAnchor = trialEnd
        var invoice = try billPeriod(
            context, &subscription, try subscription.cycle().period(0), customer: try billedCustomer(txn, subscription),
            at: trialEnd)
        let paid = invoice.status == .paid
        if !paid, invoice.collectionMethod == .sendInvoice {
            subscription.status = try subscription.status.applying(.invoiceSent)
        } else {
            subscription.status = try subscription.status.applying(.trialEnd(paid: paid))
            if !paid { try scheduleRetry(context, &subscription, &invoice, at: trialEnd) }
        }
        try insert(txn, invoice)
        try save(txn, &subscription, at: time)
        announce(context, subscription, from: before)
        return true
    }

    /// `subscription.trial_will_end`, once, `trialWillEndNotice` before the trial ends.
    func noticeTrialEnd(_ context: CommandContext, tenant: String, id: String, at time: Date) throws -> Bool {
        let txn = context.transaction
        guard var subscription = try subscription(txn, tenant: tenant, id: id), subscription.status == .trialing,
            !subscription.trialWillEndSent, let trialEnd = subscription.trialEnd,
            trialEnd.addingTimeInterval(-trialWillEndNotice) <= time
        else { return false }
        subscription.trialWillEndSent = true
        try save(txn, &subscription, at: time)
        context.emit(.subscriptionTrialWillEnd, payload: Self.eventPayload(subscription))
        return true
    }

    /// A first payment not made within 23 h: `incomplete_expired`, its invoice void.
    func expireIncomplete(_ context: CommandContext, tenant: String, id: String, at time: Date) throws -> Bool {
        let txn = context.transaction
        guard var subscription = try subscription(txn, tenant: tenant, id: id), subscription.status == .incomplete,
            subscription.createdAt.addingTimeInterval(SubscriptionStatus.incompleteWindow) <= time
        else { return false }
        let before = subscription.status
        subscription.status = try subscription.status.applying(.firstPaymentExpired)
        subscription.endDate = time
        if let id = subscription.latestInvoice, var invoice = try invoice(txn, tenant: tenant, id: id),
            InvoiceStatus.transition(from: invoice.status, on: .void) != nil
        {
            invoice.status = try invoice.status.applying(.void)
            invoice.voidedAt = time
            invoice.nextPaymentAttempt = nil
            try save(txn, &invoice, at: time)
            context.emit(.invoiceVoided, payload: Self.eventPayload(invoice))
        }
        try save(txn, &subscription, at: time)
        announce(context, subscription, from: before)
        return true
    }

    /// A dunning retry (or any due retry) of an open invoice.
    func retryPayment(_ context: CommandContext, tenant: String, id: String, at time: Date) throws -> Bool {
        let txn = context.transaction
        guard var invoice = try invoice(txn, tenant: tenant, id: id), invoice.status == .open else { return false }
        var subscription = try invoice.subscriptionID.flatMap { try self.subscription(txn, tenant: tenant, id: $0) }
        if invoice.collectionMethod == .sendInvoice {
            guard let due = invoice.nextReminderAt, due <= time else { return false }
            invoice.nextReminderAt = nil
            try remindOverdue(context, &invoice, &subscription, at: time)
            try save(txn, &invoice, at: time)
            return true
        }
        guard let due = invoice.nextPaymentAttempt, due <= time else { return false }
        invoice.nextPaymentAttempt = nil
        // A retry charges the subscription's current default method (the customer may have replaced a failing card).
        let paid = try charge(context, &invoice, paymentMethod: subscription?.defaultPaymentMethod, at: time)
        if var current = subscription {
            try follow(context, &current, &invoice, paid: paid, at: time)
            try save(txn, &current, at: time)
            subscription = current
        }
        try save(txn, &invoice, at: time)
        return true
    }

    /// A net-terms invoice unpaid at its due date (then at each dunning step): `invoice.overdue`,
    /// its subscription `past_due`, the next reminder on the dunning schedule from the due date, and
    /// at the schedule's end the configured outcome, as for failed charges. Nothing is charged.
    func remindOverdue(
        _ context: CommandContext, _ invoice: inout InvoiceDocument, _ subscription: inout SubscriptionDocument?, at time: Date
    ) throws {
        let reminders = (invoice.remindersSent ?? 0) + 1
        invoice.remindersSent = reminders
        if invoice.firstFailureAt == nil { invoice.firstFailureAt = invoice.dueAt ?? time }
        var payload = Self.eventPayload(invoice)
        if case .object(var fields) = payload {
            fields["due_at"] = invoice.dueAt.map(DocumentJSON.timestamp) ?? .null
            fields["reminder"] = .number(String(reminders))
            payload = .object(fields)
        }
        context.emit(.invoiceOverdue, payload: payload)
        guard var current = subscription else {
            // A manual invoice: reminders only, until the schedule ends.
            if case .retry(let next) = dunning.step(afterFailure: reminders, firstFailureAt: invoice.firstFailureAt ?? time) {
                invoice.nextReminderAt = next
            }
            return
        }
        let before = current.status
        if SubscriptionStatus.transition(from: current.status, on: .paymentFailed) != nil {
            current.status = try current.status.applying(.paymentFailed)
        }
        try scheduleNextStep(&current, &invoice, after: reminders, next: \.nextReminderAt, at: time)
        announce(context, current, from: before)
        try save(context.transaction, &current, at: time)
        subscription = current
    }

    // MARK: What customers and admins ask for

    func changePlan(
        _ context: CommandContext, _ subscription: inout SubscriptionDocument, to plan: PlanView, prorate: Bool, at time: Date
    ) throws {
        let txn = context.transaction
        let lines = try switchPlan(&subscription, to: plan, prorate: prorate, at: time)
        if let lines, let customer = try customer(txn, tenant: subscription.tenantID, id: subscription.customerID) {
            var invoice = try issueInvoice(
                context, customer: customer, subscription: subscription, lines: lines, currency: subscription.currencyValue,
                reason: "subscription_update", paymentMethod: subscription.defaultPaymentMethod, at: time)
            subscription.latestInvoice = invoice.id
            subscription.settleDiscount(after: invoice)
            if invoice.status != .paid {
                try follow(context, &subscription, &invoice, paid: false, at: time)
            }
            try insert(txn, invoice)
        }
        try save(txn, &subscription, at: time)
        context.emit(.subscriptionUpdated, payload: Self.eventPayload(subscription))
    }

    /// Puts the subscription on `plan` at `time` and returns the lines to invoice now, or nil when
    /// the change invoices nothing now (a trial, `proration: none`). Writes nothing: shared by the
    /// change and its preview (`GET /v1/invoices/upcoming?plan=`).
    func switchPlan(_ subscription: inout SubscriptionDocument, to plan: PlanView, prorate: Bool, at time: Date) throws
        -> [InvoiceLine]?
    {
        _ = try subscription.status.applying(.changePlan)
        guard plan.active else {
            throw Self.conflict("plan_archived", "the plan is archived: choose an active plan", param: "plan_id")
        }
        guard plan.id != subscription.planID else {
            throw Self.conflict("same_plan", "the subscription is already on this plan", param: "plan_id")
        }
        guard plan.currency == subscription.currency.code, let currency = Currency(code: plan.currency) else {
            throw Problem.invalid(
                "plan_id", "the plan is billed in \(plan.currency) and the subscription in \(subscription.currency); choose a plan in \(subscription.currency)")
        }
        let oldName = subscription.planName
        let oldPrice = subscription.priceMoney
        let newPrice = Money(plan.price, currency)
        let intervalChanges = plan.interval != subscription.interval || plan.intervalCount != subscription.intervalCount
        let wasTrialing = subscription.status == .trialing
        subscription.planID = plan.id
        subscription.planName = plan.name
        subscription.price = plan.price
        subscription.interval = plan.interval
        subscription.intervalCount = plan.intervalCount
        if wasTrialing {
            // Nothing was billed in the trial: the new plan simply applies when it ends.
            return nil
        }
        guard prorate else {
            // No lines; a new interval starts at the next renewal.
            if intervalChanges { subscription.billingCycleAnchor = subscription.currentPeriodEnd }
            return nil
        }
        guard intervalChanges else {
            let proration = try Proration.planChange(from: oldPrice, to: newPrice, in: subscription.currentPeriod, at: time)
            return proration.lines(oldPlanName: oldName, newPlanName: plan.name)
        }
        // A new period starts now, with a credit for the unused old time.
        let credit = try Proration.unusedTimeCredit(price: oldPrice, in: subscription.currentPeriod, at: time)
        subscription.billingCycleAnchor = time.wholeSecondsDown
        let period = try subscription.cycle().period(0)
        let remaining = BillingPeriod(start: time, end: subscription.currentPeriodEnd)
        subscription.currentPeriodStart = period.start
        subscription.currentPeriodEnd = period.end
        return [
            InvoiceLine(
                prorationOf: credit,
                description: "Unused time on \(oldName) after \(MessageCoding.formatTimestamp(time).prefix(10))",
                period: remaining),
            try InvoiceLine(description: "\(plan.name) (\(Self.describe(period)))", period: period, unitAmount: newPrice),
        ]
    }

    func cancel(
        _ context: CommandContext, _ subscription: inout SubscriptionDocument, atPeriodEnd: Bool, prorate: Bool, at time: Date
    ) throws {
        let before = subscription.status
        if atPeriodEnd {
            subscription.status = try subscription.status.applying(.scheduleCancel)
            subscription.cancelAtPeriodEnd = true
        } else {
            subscription.status = try subscription.status.applying(.cancelNow)
            subscription.canceledAt = time
            subscription.endDate = time
            if prorate, before == .active, subscription.currentPeriod.contains(time) {
                // Only what this subscription's paid invoices charged for the current period
                // comes back: a price switched to without an invoice was never paid.
                let txn = context.transaction
                let period = subscription.currentPeriod
                let paid = try txn.collection(BillingCollections.invoices, as: InvoiceDocument.self).find([
                    "tenant_id": .string(subscription.tenantID), "subscription_id": .string(subscription.id),
                    "status": .string(InvoiceStatus.paid.rawValue),
                ])
                // What each line cost the customer: after its discount, with its exclusive taxes.
                let lines = paid.flatMap { invoice in
                    invoice.lines.map { (amount: Money($0.net, invoice.currencyValue), period: BillingPeriod(start: $0.periodStart, end: $0.periodEnd)) }
                }.filter { $0.period.end > period.start && $0.period.start < period.end }
                let credit = Proration.unusedPaidCredit(lines, currency: subscription.currencyValue, at: time)
                let current = try self.credit(
                    txn, tenant: subscription.tenantID, customer: subscription.customerID,
                    currency: subscription.currencyValue)
                try setCredit(
                    context, tenant: subscription.tenantID, customer: subscription.customerID, to: current - credit,
                    from: current, reason: "cancel_proration", reference: subscription.id)
            }
        }
        try save(context.transaction, &subscription, at: time)
        if atPeriodEnd {
            context.emit(.subscriptionUpdated, payload: Self.eventPayload(subscription))
        } else {
            announce(context, subscription, from: before)
        }
    }

    func pause(_ context: CommandContext, _ subscription: inout SubscriptionDocument, at time: Date) throws {
        subscription.status = try subscription.status.applying(.pause)
        subscription.pausedAt = time
        try save(context.transaction, &subscription, at: time)
        context.emit(.subscriptionUpdated, payload: Self.eventPayload(subscription))
    }

    /// Resume starts a new period now, invoiced and charged.
    func resume(_ context: CommandContext, _ subscription: inout SubscriptionDocument, at time: Date) throws {
        let txn = context.transaction
        subscription.status = try subscription.status.applying(.resume)
        subscription.pausedAt = nil
        subscription.billingCycleAnchor = time.wholeSecondsDown
        let period = try subscription.cycle().period(0)
        subscription.currentPeriodStart = period.start
        subscription.currentPeriodEnd = period.end
        if let customer = try customer(txn, tenant: subscription.tenantID, id: subscription.customerID) {
            var invoice = try billPeriod(context, &subscription, period, customer: customer, at: time)
            try follow(context, &subscription, &invoice, paid: invoice.status == .paid, at: time)
            try insert(txn, invoice)
        }
        try save(txn, &subscription, at: time)
        context.emit(.subscriptionUpdated, payload: Self.eventPayload(subscription))
    }
}

extension Date {
    /// Truncated to the whole second (periods and proration count whole seconds).
    var wholeSecondsDown: Date { Date(timeIntervalSince1970: (timeIntervalSince1970).rounded(.down)) }
}
