import BillingDomain
import Foundation
import MessageBus
import ServiceKit

/// Collections the billing engine (subscription and invoice workers) owns.
public enum BillingCollections {
    public static let subscriptions = "subscriptions"
    public static let invoices = "invoices"
    public static let payments = "payments"
    public static let paymentMethods = "payment_methods"
    public static let testClocks = "test_clocks"
    public static let balances = "customer_balances"
    public static let balanceTransactions = "customer_balance_transactions"
    public static let counters = "counters"
    // Read, never written, here: owned by the customer and plan services.
    static let customers = "customers"
    static let plans = "plans"
}

/// A subscription (schemas/collections/subscriptions.json). The plan's price and interval are
/// copied at subscribe and change time, so a renewal bills what was agreed.
struct SubscriptionDocument: Codable, Sendable {
    var id: String
    var tenantID: String
    var customerID: String
    var planID: String
    var planName: String
    var price: Decimal
    var currency: Currency
    var interval: BillingInterval
    var intervalCount: Int
    var status: SubscriptionStatus
    var startDate: Date
    var endDate: Date?
    /// Periods are counted from here: the start, or the trial end, or a resume or an interval change.
    var billingCycleAnchor: Date
    var currentPeriodStart: Date
    var currentPeriodEnd: Date
    var trialEnd: Date?
    var trialWillEndSent: Bool
    var cancelAtPeriodEnd: Bool
    var canceledAt: Date?
    var pausedAt: Date?
    var defaultPaymentMethod: String?
    var latestInvoice: String?
    var metadata: [String: String]
    var testClock: String?
    var createdAt: Date
    var updatedAt: Date
    var version: Int


    /// The stored currency; a document naming one we do not bill in fails to decode, naming the field.
    var currencyValue: Currency { currency }
    var priceMoney: Money { Money(price, currencyValue) }
    var currentPeriod: BillingPeriod { BillingPeriod(start: currentPeriodStart, end: currentPeriodEnd) }

    func cycle() throws(BillingRuleError) -> BillingCycle {
        try BillingCycle(interval: interval, intervalCount: intervalCount, anchor: billingCycleAnchor)
    }

    var json: JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id), "object": .string("subscription"), "customer_id": .string(customerID),
            "plan_id": .string(planID), "status": .string(status.rawValue),
            "price": .string(priceMoney.formatted), "currency": .string(currency.code),
            "interval": .string(interval.rawValue), "interval_count": .number(String(intervalCount)),
            "start_date": DocumentJSON.timestamp(startDate),
            "current_period_start": DocumentJSON.timestamp(currentPeriodStart),
            "current_period_end": DocumentJSON.timestamp(currentPeriodEnd),
            "cancel_at_period_end": .bool(cancelAtPeriodEnd), "metadata": DocumentJSON.strings(metadata),
            "created_at": DocumentJSON.timestamp(createdAt), "updated_at": DocumentJSON.timestamp(updatedAt),
        ]
        o["end_date"] = endDate.map(DocumentJSON.timestamp) ?? .null
        o["trial_end"] = trialEnd.map(DocumentJSON.timestamp) ?? .null
        o["canceled_at"] = canceledAt.map(DocumentJSON.timestamp) ?? .null
        o["default_payment_method"] = defaultPaymentMethod.map(JSONValue.string) ?? .null
        o["latest_invoice"] = latestInvoice.map(JSONValue.string) ?? .null
        o["test_clock"] = testClock.map(JSONValue.string) ?? .null
        return .object(o)
    }
}

/// One invoice line as stored (amounts Decimal128).
struct InvoiceLineDocument: Codable, Sendable, Hashable {
    var description: String
    var periodStart: Date
    var periodEnd: Date
    var quantity: Int
    var unitAmount: Decimal
    var amount: Decimal
    var proration: Bool


    init(_ line: InvoiceLine) {
        description = line.description
        periodStart = line.period.start
        periodEnd = line.period.end
        quantity = line.quantity
        unitAmount = line.unitAmount.amount
        amount = line.amount.amount
        proration = line.proration
    }

    func json(_ currency: Currency) -> JSONValue {
        .object([
            "description": .string(description), "period_start": DocumentJSON.timestamp(periodStart),
            "period_end": DocumentJSON.timestamp(periodEnd), "quantity": .number(String(quantity)),
            "unit_amount": .string(Money(unitAmount, currency).formatted),
            "amount": .string(Money(amount, currency).formatted), "proration": .bool(proration),
        ])
    }
}

/// An invoice (schemas/collections/invoices.json).
struct InvoiceDocument: Codable, Sendable {
    var id: String
    var tenantID: String
    var customerID: String
    var customerName: String
    var customerEmail: String
    var subscriptionID: String?
    var number: String?
    var status: InvoiceStatus
    var billingReason: String
    var currency: Currency
    var lines: [InvoiceLineDocument]
    var subtotal: Decimal
    var total: Decimal
    var creditApplied: Decimal
    var amountDue: Decimal
    var amountPaid: Decimal
    var issuedAt: Date?
    var dueAt: Date?
    var paidAt: Date?
    var voidedAt: Date?
    var attemptCount: Int
    var firstFailureAt: Date?
    var nextPaymentAttempt: Date?
    var paymentMethod: String?
    var testClock: String?
    var createdAt: Date
    var updatedAt: Date
    var version: Int


    /// The stored currency; a document naming one we do not bill in fails to decode, naming the field.
    var currencyValue: Currency { currency }
    func money(_ amount: Decimal) -> JSONValue { .string(Money(amount, currencyValue).formatted) }

    var json: JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id), "object": .string("invoice"), "customer_id": .string(customerID),
            "status": .string(status.rawValue), "billing_reason": .string(billingReason), "currency": .string(currency.code),
            "lines": .array(lines.map { $0.json(currencyValue) }), "subtotal": money(subtotal), "total": money(total),
            "credit_applied": money(creditApplied), "amount_due": money(amountDue), "amount_paid": money(amountPaid),
            "amount_remaining": money(max(0, amountDue - amountPaid)), "attempt_count": .number(String(attemptCount)),
            "created_at": DocumentJSON.timestamp(createdAt), "updated_at": DocumentJSON.timestamp(updatedAt),
        ]
        o["subscription_id"] = subscriptionID.map(JSONValue.string) ?? .null
        o["number"] = number.map(JSONValue.string) ?? .null
        o["issued_at"] = issuedAt.map(DocumentJSON.timestamp) ?? .null
        o["due_at"] = dueAt.map(DocumentJSON.timestamp) ?? .null
        o["paid_at"] = paidAt.map(DocumentJSON.timestamp) ?? .null
        o["next_payment_attempt"] = nextPaymentAttempt.map(DocumentJSON.timestamp) ?? .null
        o["test_clock"] = testClock.map(JSONValue.string) ?? .null
        return .object(o)
    }
}

/// One charge attempt with the provider's reference and failure code.
struct PaymentDocument: Codable, Sendable {
    var id: String
    var tenantID: String
    var customerID: String
    var invoiceID: String
    var paymentMethod: String
    var amount: Decimal
    var currency: String
    var status: String
    var providerReference: String
    var failureCode: String?
    var failureMessage: String?
    var attempt: Int
    var createdAt: Date
}

/// A saved payment method: the provider's token and what may be shown (brand, last 4, expiry),
/// never a card number.
struct PaymentMethodDocument: Codable, Sendable {
    var id: String
    var tenantID: String
    var customerID: String
    var type: String
    var providerToken: String
    var brand: String
    var last4: String
    var expMonth: Int
    var expYear: Int
    var isDefault: Bool
    var status: String
    var createdAt: Date


    var json: JSONValue {
        .object([
            "id": .string(id), "object": .string("payment_method"), "customer_id": .string(customerID),
            "type": .string(type),
            "card": .object([
                "brand": .string(brand), "last4": .string(last4), "exp_month": .number(String(expMonth)),
                "exp_year": .number(String(expYear)),
            ]), "is_default": .bool(isDefault), "created_at": DocumentJSON.timestamp(createdAt),
        ])
    }
}

/// A test clock: its customers' subscriptions and invoices live at `frozenTime`.
struct TestClockDocument: Codable, Sendable {
    var id: String
    var tenantID: String
    var name: String?
    var frozenTime: Date
    var status: String
    var createdAt: Date
    var updatedAt: Date
    var version: Int


    var json: JSONValue {
        .object([
            "id": .string(id), "object": .string("test_clock"), "name": name.map(JSONValue.string) ?? .null,
            "frozen_time": DocumentJSON.timestamp(frozenTime), "status": .string(status),
            "created_at": DocumentJSON.timestamp(createdAt),
        ])
    }
}

/// A customer's credit in one currency (from downgrades and prorated cancels), applied to its next invoices.
struct BalanceDocument: Codable, Sendable {
    var id: String
    var tenantID: String
    var customerID: String
    var currency: String
    /// Credit available, ≥ 0.
    var credit: Decimal
    var updatedAt: Date
}

/// What the billing engine reads of a plan (owned by the plan service).
struct PlanView: Codable, Sendable {
    var id: String
    var tenantID: String
    var name: String
    var price: Decimal
    var currency: String
    var interval: BillingInterval
    var intervalCount: Int
    var trialDays: Int
    var active: Bool
}

/// What the billing engine reads of a customer (owned by the customer service).
struct CustomerView: Codable, Sendable {
    var id: String
    var tenantID: String
    var name: String
    var email: String
    var status: String
    var testClock: String?
}
