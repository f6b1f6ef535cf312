import BillingDomain
import Contracts
import Foundation
import MessageBus
import Mongo
import ServiceKit
import WorkerRuntime

/// The billing rules applied to stored state, inside one transaction each: a subscription's
/// transition and the invoice, payment and credit it produces commit together (DESIGN §6). Shared by
/// the `subscription` and `invoice` workers, the scheduler's commands and test clocks.
public struct BillingEngine: Sendable {
    public var provider: any PaymentProvider
    public var dunning: DunningPolicy
    /// `subscription.trial_will_end` is raised this long before a trial ends.
    public var trialWillEndNotice: TimeInterval = 3 * 86_400
    /// Days between an invoice's issue and its due date.
    public var invoiceDueDays: Int = 0
    /// Whether customers may pause and resume their own subscriptions (`BILLING_CUSTOMERS_MAY_PAUSE`;
    /// off by default: pausing stops invoicing, a merchant's decision). Admins and services always may.
    public var customersMayPause: Bool = false

    public init(provider: any PaymentProvider = SandboxPaymentProvider(), dunning: DunningPolicy = .standard) {
        self.provider = provider
        self.dunning = dunning
    }

    // MARK: Reading

    func customer(_ txn: MongoTransaction, tenant: String, id: String) throws -> CustomerView? {
        try txn.collection(BillingCollections.customers, as: CustomerView.self).findOne([
            "_id": .string(id), "tenant_id": .string(tenant),
        ])
    }

    func plan(_ txn: MongoTransaction, tenant: String, id: String) throws -> PlanView? {
        try txn.collection(BillingCollections.plans, as: PlanView.self).findOne([
            "_id": .string(id), "tenant_id": .string(tenant),
        ])
    }

    func subscription(_ txn: MongoTransaction, tenant: String, id: String) throws -> SubscriptionDocument? {
        try txn.collection(BillingCollections.subscriptions, as: SubscriptionDocument.self).findOne([
            "_id": .string(id), "tenant_id": .string(tenant),
        ])
    }

    func invoice(_ txn: MongoTransaction, tenant: String, id: String) throws -> InvoiceDocument? {
        try txn.collection(BillingCollections.invoices, as: InvoiceDocument.self).findOne([
            "_id": .string(id), "tenant_id": .string(tenant),
        ])
    }

    /// A usable payment method of the customer: `id` if given, else its default.
    func paymentMethod(_ txn: MongoTransaction, tenant: String, customer: String, id: String?) throws
        -> PaymentMethodDocument?
    {
        let methods = txn.collection(BillingCollections.paymentMethods, as: PaymentMethodDocument.self)
        var filter: BSONDocument = ["tenant_id": .string(tenant), "customer_id": .string(customer), "status": "active"]
        if let id {
            filter["_id"] = .string(id)
        } else {
            filter["is_default"] = true
        }
        return try methods.findOne(filter)
    }

    // MARK: Writing

    func save(_ txn: MongoTransaction, _ subscription: inout SubscriptionDocument, at time: Date) throws {
        let collection = txn.collection(BillingCollections.subscriptions, as: SubscriptionDocument.self)
        var updated = subscription
        updated.version += 1
        updated.updatedAt = time
        let result = try collection.replaceOne(
            ["_id": .string(subscription.id), "version": .int(subscription.version)], replacement: updated)
        guard result.matchedCount == 1 else { throw Versioned.conflict(BillingCollections.subscriptions) }
        subscription = updated
    }

    func save(_ txn: MongoTransaction, _ invoice: inout InvoiceDocument, at time: Date) throws {
        let collection = txn.collection(BillingCollections.invoices, as: InvoiceDocument.self)
        var updated = invoice
        updated.version += 1
        updated.updatedAt = time
        let result = try collection.replaceOne(
            ["_id": .string(invoice.id), "version": .int(invoice.version)], replacement: updated)
        guard result.matchedCount == 1 else { throw Versioned.conflict(BillingCollections.invoices) }
        invoice = updated
    }

    /// The customer's credit in `currency`.
    func credit(_ txn: MongoTransaction, tenant: String, customer: String, currency: Currency) throws -> Money {
        let balance = try txn.collection(BillingCollections.balances, as: BalanceDocument.self).findOne([
            "_id": .string(Self.balanceID(tenant, customer, currency))
        ])
        return Money(balance?.credit ?? 0, currency)
    }

    static func balanceID(_ tenant: String, _ customer: String, _ currency: Currency) -> String {
        "\(tenant):\(customer):\(currency.code)"
    }

    /// Sets the customer's credit, and records why it moved.
    func setCredit(
        _ context: CommandContext, tenant: String, customer: String, to credit: Money, from previous: Money, reason: String,
        reference: String
    ) throws {
        guard credit != previous else { return }
        let txn = context.transaction
        let id = Self.balanceID(tenant, customer, credit.currency)
        _ = try txn.collection(BillingCollections.balances, as: BalanceDocument.self).replaceOne(
            ["_id": .string(id)],
            replacement: BalanceDocument(
                id: id, tenantID: tenant, customerID: customer, currency: credit.currency.code, credit: credit.amount,
                updatedAt: context.now), upsert: true)
        let movement: BSONDocument = [
            "_id": .string(ResourceID.make("cbtxn", at: context.now)), "tenant_id": .string(tenant),
            "customer_id": .string(customer), "currency": .string(credit.currency.code),
            "amount": .decimal128((credit - previous).amount), "ending_credit": .decimal128(credit.amount),
            "reason": .string(reason), "reference": .string(reference), "created_at": .datetime(millisecondsOf: context.now),
        ]
        _ = try txn.collection(BillingCollections.balanceTransactions, as: BSONDocument.self).insertOne(movement)
    }

    /// The tenant's next invoice number, from a counter updated in this transaction (no gaps: a
    /// rolled-back transaction rolls the counter back too).
    func nextInvoiceNumber(_ txn: MongoTransaction, tenant: String) throws -> InvoiceNumber {
        try InvoiceNumber(sequence: nextSequence(txn, "invoice_number:\(tenant)"), prefix: invoicePrefix(txn, tenant: tenant))
    }

    /// The next value of `counter` (1 first), taken in this transaction: no gaps.
    func nextSequence(_ txn: MongoTransaction, _ counter: String) throws -> Int {
        let updated = try txn.collection(BillingCollections.counters, as: BSONDocument.self).findOneAndUpdate(
            ["_id": .string(counter)], update: ["$inc": ["value": 1]], returnNew: true, upsert: true)
        return updated?["value"]?.intValue ?? 1
    }

    // MARK: Invoices and payments

    /// Creates, finalises and (when something is due) charges an invoice for `lines`. The customer's
    /// credit is applied; a negative total becomes credit. The caller inserts it (``insert(_:_:)``)
    /// once it has applied the outcome to the subscription.
    func issueInvoice(
        _ context: CommandContext, customer: CustomerView, subscription: SubscriptionDocument?, lines: [InvoiceLine],
        currency: Currency, reason: String, paymentMethod: String?, at time: Date
    ) throws -> InvoiceDocument {
        let txn = context.transaction
        let rates = try storedTaxRates(txn, subscription)
        var invoice = try draft(
            customer: customer, subscription: subscription, lines: lines, currency: currency, reason: reason,
            rates: rates, discount: subscription?.discount, terms: subscription.map { ($0.collection, $0.daysUntilDue) },
            paymentMethod: paymentMethod, at: time)
        context.emit(.invoiceCreated, payload: Self.eventPayload(invoice))
        try finalize(context, &invoice, at: time)
        return invoice
    }

    /// A draft invoice: its lines with `rates` on each and `discount` if it applies at `time`; the
    /// customer's credit is applied when it is finalised.
    func draft(
        customer: CustomerView, subscription: SubscriptionDocument?, lines: [InvoiceLine], currency: Currency, reason: String,
        rates: [TaxRateDocument], discount: DiscountDocument?, terms: (CollectionMethod, Int?)?, paymentMethod: String?,
        at time: Date
    ) throws -> InvoiceDocument {
        let (totals, names) = try Self.totals(
            lines: lines, currency: currency, credit: Money(0, currency), rates: rates, discount: discount, at: time)
        return InvoiceDocument(
            id: ResourceID.make("in", at: time), tenantID: customer.tenantID, customerID: customer.id,
            customerName: customer.name, customerEmail: customer.email, subscriptionID: subscription?.id, number: nil,
            status: .draft, billingReason: reason, currency: currency,
            lines: totals.lines.map { InvoiceLineDocument($0, names: names) }, subtotal: totals.subtotal.amount,
            discountAmount: totals.discountAmount.amount, totalDiscountAmounts: Self.discountAmounts(totals, discount),
            tax: totals.tax.amount, totalTaxAmounts: totals.totalTaxAmounts.map { TaxAmountDocument($0, names: names) },
            total: totals.total.amount, creditApplied: 0, amountDue: max(totals.total.amount, 0), amountPaid: 0,
            collectionMethod: terms?.0 ?? .chargeAutomatically, daysUntilDue: terms?.1, issuedAt: nil, dueAt: nil,
            paidAt: nil, voidedAt: nil, attemptCount: 0, firstFailureAt: nil, nextPaymentAttempt: nil,
            paymentMethod: paymentMethod, testClock: subscription?.testClock ?? customer.testClock, createdAt: time,
            updatedAt: time, version: 1)
    }

    /// Finalises a draft at `time`: the customer's credit applied (a negative total joins it), the
    /// number taken in this transaction, due by its terms (net `days_until_due` for `send_invoice`,
    /// else the engine's default), then paid at once if nothing is due, or charged unless sent.
    func finalize(_ context: CommandContext, _ invoice: inout InvoiceDocument, at time: Date) throws {
        let txn = context.transaction
        let currency = invoice.currencyValue
        let previous = try credit(txn, tenant: invoice.tenantID, customer: invoice.customerID, currency: currency)
        let application = CreditApplication(total: invoice.money(invoice.total), balance: previous)
        try setCredit(
            context, tenant: invoice.tenantID, customer: invoice.customerID, to: application.endingBalance, from: previous,
            reason: invoice.total < 0 ? "invoice_credit" : "applied_to_invoice", reference: invoice.id)
        invoice.creditApplied = application.applied.amount
        invoice.amountDue = application.amountDue.amount
        invoice.status = try invoice.status.applying(.finalize)
        invoice.number = try nextInvoiceNumber(txn, tenant: invoice.tenantID).description
        invoice.issuedAt = time
        let collection = invoice.collectionMethod ?? .chargeAutomatically
        let dueDays = collection == .sendInvoice ? invoice.daysUntilDue ?? invoiceDueDays : invoiceDueDays
        invoice.dueAt = time.addingTimeInterval(TimeInterval(dueDays * 86_400))
        context.emit(.invoiceFinalized, payload: Self.eventPayload(invoice))
        if invoice.amountDue == 0 {
            invoice.status = try invoice.status.applying(.paymentSucceeded)
            invoice.paidAt = time
            context.emit(.invoicePaid, payload: Self.eventPayload(invoice))
        } else if collection == .chargeAutomatically {
            _ = try charge(context, &invoice, paymentMethod: invoice.paymentMethod, at: time)
        } else {
            // Sent: the scheduler looks at it again when it falls due (`invoice.overdue` if unpaid).
            invoice.nextReminderAt = invoice.dueAt
        }
    }

    /// An invoice's figures for `lines` at `time`: the subscription's tax rates on every line, its
    /// discount if it applies then (DESIGN §13), the customer's `credit`; with the rates' display names.
    /// Shared by issuing and previewing.
    func totals(
        _ txn: MongoTransaction, _ subscription: SubscriptionDocument?, lines: [InvoiceLine], currency: Currency, credit: Money,
        at time: Date
    ) throws -> (InvoiceTotals, [String: String]) {
        try Self.totals(
            lines: lines, currency: currency, credit: credit, rates: try storedTaxRates(txn, subscription),
            discount: subscription?.discount, at: time)
    }

    static func totals(
        lines: [InvoiceLine], currency: Currency, credit: Money, rates: [TaxRateDocument], discount: DiscountDocument?,
        at time: Date
    ) throws -> (InvoiceTotals, [String: String]) {
        let rules = try rates.map { try $0.rule() }
        let names = Dictionary(rates.map { ($0.id, $0.displayName) }, uniquingKeysWith: { first, _ in first })
        let totals = try InvoiceTotals(
            lines: lines.map { $0.taxed(rules) }, currency: currency, creditBalance: credit, discount: discount?.rule(at: time))
        return (totals, names)
    }

    /// The discount per coupon (one coupon per subscription so far).
    static func discountAmounts(_ totals: InvoiceTotals, _ discount: DiscountDocument?) -> [DiscountAmountDocument] {
        guard totals.discountAmount.amount != 0, let discount else { return [] }
        return [DiscountAmountDocument(coupon: discount.coupon, amount: totals.discountAmount.amount)]
    }

    func insert(_ txn: MongoTransaction, _ invoice: InvoiceDocument) throws {
        _ = try txn.collection(BillingCollections.invoices, as: InvoiceDocument.self).insertOne(invoice)
    }

    /// One charge attempt for what the invoice still owes; records the payment either way.
    @discardableResult
    func charge(_ context: CommandContext, _ invoice: inout InvoiceDocument, paymentMethod requested: String?, at time: Date)
        throws -> Bool
    {
        let txn = context.transaction
        let method = try paymentMethod(
            txn, tenant: invoice.tenantID, customer: invoice.customerID, id: requested ?? invoice.paymentMethod)
        let attempt = invoice.attemptCount + 1
        let due = Money(invoice.amountDue - invoice.amountPaid, invoice.currencyValue)
        let result: ChargeResult
        if let method {
            result = provider.charge(
                ChargeRequest(amount: due, token: method.providerToken, idempotencyKey: "\(invoice.id)_\(attempt)"))
        } else {
            result = ChargeResult(
                succeeded: false, reference: "none", failureCode: "no_payment_method",
                failureMessage: "the customer has no usable payment method")
        }
        let payment = PaymentDocument(
            id: ResourceID.make("pay", at: time), tenantID: invoice.tenantID, customerID: invoice.customerID,
            invoiceID: invoice.id, paymentMethod: method?.id ?? "none", amount: due.amount, currency: invoice.currency.code,
            status: result.succeeded ? "succeeded" : "failed", providerReference: result.reference,
            failureCode: result.failureCode, failureMessage: result.failureMessage, attempt: attempt, createdAt: time)
        _ = try txn.collection(BillingCollections.payments, as: PaymentDocument.self).insertOne(payment)
        invoice.attemptCount = attempt
        if let method { invoice.paymentMethod = method.id }
        if result.succeeded {
            invoice.status = try invoice.status.applying(.paymentSucceeded)
            invoice.amountPaid += due.amount
            invoice.paidAt = time
            invoice.nextPaymentAttempt = nil
            invoice.nextReminderAt = nil
            context.emit(.invoicePaid, payload: Self.eventPayload(invoice))
        } else {
            invoice.status = try invoice.status.applying(.paymentFailed)
            if invoice.firstFailureAt == nil { invoice.firstFailureAt = time }
            var payload = Self.eventPayload(invoice)
            if case .object(var o) = payload {
                o["failure_code"] = .string(result.failureCode ?? "failed")
                payload = .object(o)
            }
            context.emit(.invoicePaymentFailed, payload: payload)
        }
        return result.succeeded
    }

    static func eventPayload(_ invoice: InvoiceDocument) -> JSONValue {
        .object([
            "id": .string(invoice.id), "customer_id": .string(invoice.customerID),
            "subscription_id": invoice.subscriptionID.map(JSONValue.string) ?? .null,
            "number": invoice.number.map(JSONValue.string) ?? .null, "status": .string(invoice.status.rawValue),
            "currency": .string(invoice.currency.code), "total": .string(invoice.money(invoice.total).formatted),
            "amount_due": .string(invoice.money(invoice.amountDue).formatted),
            "amount_paid": .string(invoice.money(invoice.amountPaid).formatted),
        ])
    }

    static func eventPayload(_ subscription: SubscriptionDocument) -> JSONValue {
        .object([
            "id": .string(subscription.id), "customer_id": .string(subscription.customerID),
            "plan_id": .string(subscription.planID), "status": .string(subscription.status.rawValue),
            "current_period_start": DocumentJSON.timestamp(subscription.currentPeriodStart),
            "current_period_end": DocumentJSON.timestamp(subscription.currentPeriodEnd),
        ])
    }
}
