import BillingDomain
import Contracts
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

    /// The API representation (schemas/openapi.yaml `Subscription`).
    var resource: Subscription {
        Subscription(
            id: id, customerID: customerID, planID: planID, status: status, price: priceMoney, interval: interval,
            intervalCount: intervalCount, startDate: startDate, endDate: endDate, currentPeriod: currentPeriod,
            trialEnd: trialEnd, cancelAtPeriodEnd: cancelAtPeriodEnd, canceledAt: canceledAt,
            defaultPaymentMethod: defaultPaymentMethod, latestInvoice: latestInvoice, metadata: metadata, testClock: testClock,
            createdAt: createdAt, updatedAt: updatedAt)
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

    func resource(_ currency: Currency) -> Invoice.Line {
        Invoice.Line(
            description: description, period: BillingPeriod(start: periodStart, end: periodEnd), quantity: quantity,
            unitAmount: Money(unitAmount, currency), amount: Money(amount, currency), proration: proration)
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
    func money(_ amount: Decimal) -> Money { Money(amount, currencyValue) }

    /// The API representation (schemas/openapi.yaml `Invoice`).
    var resource: Invoice {
        Invoice(
            id: id, customerID: customerID, subscriptionID: subscriptionID, number: number, status: status,
            billingReason: billingReason, lines: lines.map { $0.resource(currencyValue) },
            amounts: Invoice.Amounts(
                subtotal: money(subtotal), total: money(total), creditApplied: money(creditApplied),
                amountDue: money(amountDue), amountPaid: money(amountPaid)),
            issuedAt: issuedAt, dueAt: dueAt, paidAt: paidAt, attemptCount: attemptCount,
            nextPaymentAttempt: nextPaymentAttempt, testClock: testClock, createdAt: createdAt, updatedAt: updatedAt)
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


    /// The API representation (schemas/openapi.yaml `PaymentMethod`).
    var resource: PaymentMethod {
        PaymentMethod(
            id: id, customerID: customerID, type: type,
            card: PaymentMethod.Card(brand: brand, last4: last4, expMonth: expMonth, expYear: expYear), isDefault: isDefault,
            createdAt: createdAt)
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


    /// The API representation (schemas/openapi.yaml `TestClock`).
    func resource(transitions: Int? = nil) -> TestClock {
        TestClock(id: id, name: name, frozenTime: frozenTime, status: status, createdAt: createdAt, transitions: transitions)
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
