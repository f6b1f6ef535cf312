import BillingDomain
import Foundation
import MessageBus

// The subscription and invoice workers' answers (schemas/openapi.yaml `Subscription`, `Invoice`,
// `PaymentMethod`, `TestClock`). Amounts are decimal strings with the currency's minor-unit digits;
// the fields the contract always lists are `null` when they have no value.

/// A subscription, with the price and interval copied from its plan when it was agreed.
public struct Subscription: Codable, Sendable {
    public var id: String
    public var object = "subscription"
    public var customerID, planID: String
    public var status: SubscriptionStatus
    public var price: DecimalText
    public var currency: String
    public var interval: BillingInterval
    public var intervalCount: Int
    public var startDate: Date
    @Nullable public var endDate: Date?
    public var currentPeriodStart, currentPeriodEnd: Date
    @Nullable public var trialEnd: Date?
    public var cancelAtPeriodEnd: Bool
    @Nullable public var canceledAt: Date?
    @Nullable public var defaultPaymentMethod: String?
    @Nullable public var latestInvoice: String?
    public var metadata: [String: String]
    @Nullable public var testClock: String?
    /// The coupon applied, while it lasts.
    @Nullable public var discount: AppliedDiscount?
    /// The tax rates (`txr_…`) of its invoices.
    public var defaultTaxRates: [String]
    /// How its invoices are paid; `days_until_due` with `send_invoice`.
    public var collectionMethod: CollectionMethod
    @Nullable public var daysUntilDue: Int?
    public var createdAt, updatedAt: Date

    public init(
        id: String, customerID: String, planID: String, status: SubscriptionStatus, price: Money, interval: BillingInterval,
        intervalCount: Int, startDate: Date, endDate: Date?, currentPeriod: BillingPeriod, trialEnd: Date?,
        cancelAtPeriodEnd: Bool, canceledAt: Date?, defaultPaymentMethod: String?, latestInvoice: String?,
        metadata: [String: String], testClock: String?, discount: AppliedDiscount?, defaultTaxRates: [String],
        collectionMethod: CollectionMethod, daysUntilDue: Int?, createdAt: Date, updatedAt: Date
    ) {
        (self.discount, self.defaultTaxRates) = (discount, defaultTaxRates)
        (self.collectionMethod, self.daysUntilDue) = (collectionMethod, daysUntilDue)
        (self.id, self.customerID, self.planID, self.status) = (id, customerID, planID, status)
        (self.price, self.currency) = (DecimalText(price.formatted), price.currency.code)
        (self.interval, self.intervalCount, self.startDate, self.endDate) = (interval, intervalCount, startDate, endDate)
        (self.currentPeriodStart, self.currentPeriodEnd, self.trialEnd) = (currentPeriod.start, currentPeriod.end, trialEnd)
        (self.cancelAtPeriodEnd, self.canceledAt, self.defaultPaymentMethod) = (cancelAtPeriodEnd, canceledAt, defaultPaymentMethod)
        (self.latestInvoice, self.metadata, self.testClock) = (latestInvoice, metadata, testClock)
        (self.createdAt, self.updatedAt) = (createdAt, updatedAt)
    }
}

/// An invoice with its lines; `amount_remaining` is what is still due.
public struct Invoice: Codable, Sendable {
    /// One line: a period of a plan, or a proration.
    public struct Line: Codable, Sendable {
        public var description: String
        public var periodStart, periodEnd: Date
        public var quantity: Int
        public var unitAmount, amount: DecimalText
        public var proration: Bool
        /// The coupon's share of this line.
        public var discountAmount: DecimalText
        /// One per tax rate of the line, on its amount after the discount.
        public var taxAmounts: [InvoiceTaxAmount]

        public init(
            description: String, period: BillingPeriod, quantity: Int, unitAmount: Money, amount: Money, proration: Bool,
            discountAmount: Money, taxAmounts: [InvoiceTaxAmount]
        ) {
            (self.description, self.periodStart, self.periodEnd, self.quantity) = (description, period.start, period.end, quantity)
            (self.unitAmount, self.amount) = (DecimalText(unitAmount.formatted), DecimalText(amount.formatted))
            (self.proration, self.discountAmount, self.taxAmounts) = (proration, discountAmount.text, taxAmounts)
        }
    }

    /// The amounts of an invoice, in its currency.
    public struct Amounts: Sendable {
        public var subtotal, discountAmount, tax, total, creditApplied, amountDue, amountPaid, amountCredited, amountRefunded: Money

        public init(
            subtotal: Money, discountAmount: Money, tax: Money, total: Money, creditApplied: Money, amountDue: Money,
            amountPaid: Money, amountCredited: Money, amountRefunded: Money
        ) {
            (self.subtotal, self.discountAmount, self.tax, self.total) = (subtotal, discountAmount, tax, total)
            (self.creditApplied, self.amountDue, self.amountPaid) = (creditApplied, amountDue, amountPaid)
            (self.amountCredited, self.amountRefunded) = (amountCredited, amountRefunded)
        }
    }

    public var id: String
    public var object = "invoice"
    public var customerID: String
    @Nullable public var subscriptionID: String?
    @Nullable public var number: String?
    public var status: InvoiceStatus
    public var billingReason: String
    /// `charge_automatically`, or `send_invoice` (paid by `due_at`, never charged automatically).
    public var collectionMethod: CollectionMethod
    public var currency: String
    public var lines: [Line]
    /// The sum of the lines, before discount and exclusive tax.
    public var subtotal: DecimalText
    /// What the coupon took off, in all and per coupon.
    public var discountAmount: DecimalText
    public var totalDiscountAmounts: [InvoiceDiscountAmount]
    /// The exclusive taxes, added to the total; `total_tax_amounts` lists every rate, inclusive ones too.
    public var tax: DecimalText
    public var totalTaxAmounts: [InvoiceTaxAmount]
    /// `subtotal − discount_amount + tax`.
    public var total, creditApplied, amountDue, amountPaid, amountRemaining: DecimalText
    /// Its credit notes not voided (an unpaid invoice's lower `amount_due`), and what was refunded.
    public var amountCredited, amountRefunded: DecimalText
    @Nullable public var issuedAt: Date?
    @Nullable public var dueAt: Date?
    @Nullable public var paidAt: Date?
    public var attemptCount: Int
    @Nullable public var nextPaymentAttempt: Date?
    @Nullable public var testClock: String?
    public var createdAt, updatedAt: Date

    public init(
        id: String, customerID: String, subscriptionID: String?, number: String?, status: InvoiceStatus, billingReason: String,
        collectionMethod: CollectionMethod, lines: [Line], amounts: Amounts, totalDiscountAmounts: [InvoiceDiscountAmount], totalTaxAmounts: [InvoiceTaxAmount],
        issuedAt: Date?, dueAt: Date?, paidAt: Date?, attemptCount: Int,
        nextPaymentAttempt: Date?, testClock: String?, createdAt: Date, updatedAt: Date
    ) {
        (self.id, self.customerID, self.subscriptionID, self.number) = (id, customerID, subscriptionID, number)
        (self.status, self.billingReason, self.currency, self.lines) = (status, billingReason, amounts.total.currency.code, lines)
        self.collectionMethod = collectionMethod
        let remaining = Money(max(0, amounts.amountDue.amount - amounts.amountPaid.amount), amounts.amountDue.currency)
        (subtotal, total, creditApplied) = (amounts.subtotal.text, amounts.total.text, amounts.creditApplied.text)
        (discountAmount, tax) = (amounts.discountAmount.text, amounts.tax.text)
        (amountCredited, amountRefunded) = (amounts.amountCredited.text, amounts.amountRefunded.text)
        (self.totalDiscountAmounts, self.totalTaxAmounts) = (totalDiscountAmounts, totalTaxAmounts)
        (amountDue, amountPaid, amountRemaining) = (amounts.amountDue.text, amounts.amountPaid.text, remaining.text)
        (self.issuedAt, self.dueAt, self.paidAt, self.attemptCount) = (issuedAt, dueAt, paidAt, attemptCount)
        (self.nextPaymentAttempt, self.testClock, self.createdAt, self.updatedAt) = (nextPaymentAttempt, testClock, createdAt, updatedAt)
    }
}

/// A one-off charge or credit; `invoice` is null while it is pending.
public struct InvoiceItem: Codable, Sendable {
    public var id: String
    public var object = "invoice_item"
    public var customerID: String
    @Nullable public var subscriptionID: String?
    @Nullable public var invoice: String?
    public var description: String
    public var quantity: Int
    public var unitAmount, amount: DecimalText
    public var currency: String
    public var metadata: [String: String]
    public var createdAt: Date

    public init(
        id: String, customerID: String, subscriptionID: String?, invoice: String?, description: String, quantity: Int,
        unitAmount: Money, amount: Money, metadata: [String: String], createdAt: Date
    ) {
        (self.id, self.customerID, self.subscriptionID, self.invoice, self.description) = (id, customerID, subscriptionID, invoice, description)
        (self.quantity, self.unitAmount, self.amount, self.currency) = (quantity, unitAmount.text, amount.text, amount.currency.code)
        (self.metadata, self.createdAt) = (metadata, createdAt)
    }
}

/// An invoice not yet made: a subscription's next one, or a plan change's proration; no id or number.
public struct UpcomingInvoice: Codable, Sendable {
    public var object = "upcoming_invoice"
    public var customerID: String
    public var subscriptionID: String
    public var billingReason: String
    public var currency: String
    /// When it would be issued (and charged).
    public var issuesAt: Date
    public var lines: [Invoice.Line]
    public var subtotal, discountAmount: DecimalText
    public var totalDiscountAmounts: [InvoiceDiscountAmount]
    public var tax: DecimalText
    public var totalTaxAmounts: [InvoiceTaxAmount]
    public var total, creditApplied, amountDue: DecimalText

    public init(
        customerID: String, subscriptionID: String, billingReason: String, issuesAt: Date, lines: [Invoice.Line], subtotal: Money,
        discountAmount: Money, totalDiscountAmounts: [InvoiceDiscountAmount], tax: Money, totalTaxAmounts: [InvoiceTaxAmount],
        total: Money, creditApplied: Money, amountDue: Money
    ) {
        (self.customerID, self.subscriptionID, self.billingReason, self.currency) = (customerID, subscriptionID, billingReason, total.currency.code)
        (self.issuesAt, self.lines, self.subtotal, self.discountAmount) = (issuesAt, lines, subtotal.text, discountAmount.text)
        (self.totalDiscountAmounts, self.tax, self.totalTaxAmounts) = (totalDiscountAmounts, tax.text, totalTaxAmounts)
        (self.total, self.creditApplied, self.amountDue) = (total.text, creditApplied.text, amountDue.text)
    }
}

extension Money {
    /// The amount as a response writes it (`"19.90"`).
    public var text: DecimalText { DecimalText(formatted) }
}

/// A saved payment method: what may be shown of the card, never its number.
public struct PaymentMethod: Codable, Sendable {
    public struct Card: Codable, Sendable {
        public var brand, last4: String
        public var expMonth, expYear: Int

        public init(brand: String, last4: String, expMonth: Int, expYear: Int) {
            (self.brand, self.last4, self.expMonth, self.expYear) = (brand, last4, expMonth, expYear)
        }
    }

    public var id: String
    public var object = "payment_method"
    public var customerID: String
    public var type: String
    public var card: Card
    public var isDefault: Bool
    public var createdAt: Date

    public init(id: String, customerID: String, type: String, card: Card, isDefault: Bool, createdAt: Date) {
        (self.id, self.customerID, self.type, self.card, self.isDefault, self.createdAt) = (id, customerID, type, card, isDefault, createdAt)
    }
}

/// A test clock; `transitions` only in the answer to an advance (how many it ran).
public struct TestClock: Codable, Sendable {
    public var id: String
    public var object = "test_clock"
    @Nullable public var name: String?
    public var frozenTime: Date
    public var status: String
    public var createdAt: Date
    public var transitions: Int?

    public init(id: String, name: String?, frozenTime: Date, status: String, createdAt: Date, transitions: Int? = nil) {
        (self.id, self.name, self.frozenTime, self.status, self.createdAt) = (id, name, frozenTime, status, createdAt)
        self.transitions = transitions
    }
}

/// What a scheduled transition (`subscription.renew`, `invoice.retry_payment` …) did: `applied` is
/// false when it was no longer due (its state moved on).
public struct ScheduledWorkOutcome: Codable, Sendable {
    public var applied: Bool

    public init(applied: Bool) { self.applied = applied }
}
