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
    /// The coupon applied, while it lasts.
    var discount: DiscountDocument? = nil
    /// The tax rates of its invoices (`txr_…`), nil or empty for none.
    var defaultTaxRates: [String]? = nil
    /// Net terms: nil is `charge_automatically`.
    var collectionMethod: CollectionMethod? = nil
    var daysUntilDue: Int? = nil

    var collection: CollectionMethod { collectionMethod ?? .chargeAutomatically }

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
            discount: discount?.resource, defaultTaxRates: defaultTaxRates ?? [], collectionMethod: collection,
            daysUntilDue: daysUntilDue, createdAt: createdAt, updatedAt: updatedAt)
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
    /// The coupon's share of the line (absent on invoices from before discounts: zero).
    var discountAmount: Decimal?
    var taxAmounts: [TaxAmountDocument]?

    /// `names` gives each tax rate's display name.
    init(_ adjusted: AdjustedLine, names: [String: String]) {
        let line = adjusted.line
        description = line.description
        periodStart = line.period.start
        periodEnd = line.period.end
        quantity = line.quantity
        unitAmount = line.unitAmount.amount
        amount = line.amount.amount
        proration = line.proration
        discountAmount = adjusted.discount.amount
        taxAmounts = adjusted.taxes.map { TaxAmountDocument($0, names: names) }
    }

    /// What the customer paid for this line: its amount after the discount, with its exclusive taxes.
    var net: Decimal {
        amount - (discountAmount ?? 0) + (taxAmounts ?? []).filter { !$0.inclusive }.reduce(0) { $0 + $1.amount }
    }

    func resource(_ currency: Currency) -> Invoice.Line {
        Invoice.Line(
            description: description, period: BillingPeriod(start: periodStart, end: periodEnd), quantity: quantity,
            unitAmount: Money(unitAmount, currency), amount: Money(amount, currency), proration: proration,
            discountAmount: Money(discountAmount ?? 0, currency), taxAmounts: (taxAmounts ?? []).map { $0.resource(currency) })
    }
}

/// An invoice (schemas/collections/invoices.json).
struct InvoiceDocument: Codable, Sendable {
    var id: String
    var tenantID: String
    var customerID: String
    var customerName: String
    var customerEmail: String
    // The core fields of DESIGN §4 are always stored, null when they have no value (the validator
    // requires them).
    @Nullable var subscriptionID: String?
    @Nullable var number: String?
    var status: InvoiceStatus
    var billingReason: String
    var currency: Currency
    var lines: [InvoiceLineDocument]
    var subtotal: Decimal
    /// Absent on invoices from before discounts and taxes: zero, none.
    var discountAmount: Decimal?
    var totalDiscountAmounts: [DiscountAmountDocument]?
    var tax: Decimal?
    var totalTaxAmounts: [TaxAmountDocument]?
    var total: Decimal
    var creditApplied: Decimal
    var amountDue: Decimal
    var amountPaid: Decimal
    /// Its credit notes not voided, and what was refunded of its charges (absent: zero).
    var amountCredited: Decimal? = nil
    var amountRefunded: Decimal? = nil
    /// Absent on invoices from before net terms: `charge_automatically`.
    var collectionMethod: CollectionMethod? = nil
    /// A draft's net terms, applied when it is finalised.
    var daysUntilDue: Int? = nil
    /// Overdue reminders sent for a net-terms invoice, and when the next is due (the due date first).
    var remindersSent: Int? = nil
    var nextReminderAt: Date? = nil
    @Nullable var issuedAt: Date?
    @Nullable var dueAt: Date?
    var paidAt: Date?
    var voidedAt: Date?
    var attemptCount: Int
    var firstFailureAt: Date?
    @Nullable var nextPaymentAttempt: Date?
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
            billingReason: billingReason, collectionMethod: collectionMethod ?? .chargeAutomatically,
            lines: lines.map { $0.resource(currencyValue) },
            amounts: Invoice.Amounts(
                subtotal: money(subtotal), discountAmount: money(discountAmount ?? 0), tax: money(tax ?? 0),
                total: money(total), creditApplied: money(creditApplied), amountDue: money(amountDue),
                amountPaid: money(amountPaid), amountCredited: money(amountCredited ?? 0),
                amountRefunded: money(amountRefunded ?? 0)),
            totalDiscountAmounts: (totalDiscountAmounts ?? []).map {
                InvoiceDiscountAmount(coupon: $0.coupon, amount: money($0.amount))
            },
            totalTaxAmounts: (totalTaxAmounts ?? []).map { $0.resource(currencyValue) },
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
