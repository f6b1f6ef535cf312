import BillingDomain
import Foundation
import MessageBus

// The invoice worker's coupons and tax rates (schemas/openapi.yaml `Coupon`, `TaxRate`, `Discount`).

/// A coupon: what it takes off, for how long, and how often it was redeemed.
public struct Coupon: Codable, Sendable {
    public var id: String
    public var object = "coupon"
    @Nullable public var name: String?
    /// A JSON number (`25`, `12.5`).
    @Nullable public var percentOff: Decimal?
    @Nullable public var amountOff: DecimalText?
    @Nullable public var currency: String?
    public var duration: CouponDuration
    @Nullable public var durationInMonths: Int?
    @Nullable public var maxRedemptions: Int?
    @Nullable public var redeemBy: Date?
    public var timesRedeemed: Int
    /// False once deleted, past `redeem_by` or fully redeemed: it can no longer be applied.
    public var valid: Bool
    public var metadata: [String: String]
    public var createdAt: Date

    public init(
        id: String, name: String?, percentOff: Decimal?, amountOff: Money?, duration: CouponDuration, durationInMonths: Int?,
        maxRedemptions: Int?, redeemBy: Date?, timesRedeemed: Int, valid: Bool, metadata: [String: String], createdAt: Date
    ) {
        (self.id, self.name, self.percentOff) = (id, name, percentOff)
        (self.amountOff, self.currency) = (amountOff.map { DecimalText($0.formatted) }, amountOff?.currency.code)
        (self.duration, self.durationInMonths, self.maxRedemptions, self.redeemBy) = (duration, durationInMonths, maxRedemptions, redeemBy)
        (self.timesRedeemed, self.valid, self.metadata, self.createdAt) = (timesRedeemed, valid, metadata, createdAt)
    }
}

/// A tax rate (named so beside BillingDomain's ``TaxRate``, the rule it carries).
public struct TaxRateResource: Codable, Sendable {
    public var id: String
    public var object = "tax_rate"
    public var displayName: String
    @Nullable public var description: String?
    /// A JSON number (`19`, `8.875`).
    public var percentage: Decimal
    public var inclusive: Bool
    @Nullable public var country: String?
    public var active: Bool
    public var metadata: [String: String]
    public var createdAt: Date

    public init(
        id: String, displayName: String, description: String?, percentage: Decimal, inclusive: Bool, country: String?,
        active: Bool, metadata: [String: String], createdAt: Date
    ) {
        (self.id, self.displayName, self.description, self.percentage, self.inclusive) = (id, displayName, description, percentage, inclusive)
        (self.country, self.active, self.metadata, self.createdAt) = (country, active, metadata, createdAt)
    }
}

/// A coupon applied to a subscription: the coupon's terms as they were when applied, and when it ends.
public struct AppliedDiscount: Codable, Sendable {
    public var object = "discount"
    public var coupon: String
    @Nullable public var name: String?
    @Nullable public var percentOff: Decimal?
    @Nullable public var amountOff: DecimalText?
    @Nullable public var currency: String?
    public var duration: CouponDuration
    public var start: Date
    /// When a repeating discount stops applying; null for once and forever.
    @Nullable public var end: Date?

    public init(
        coupon: String, name: String?, percentOff: Decimal?, amountOff: Money?, duration: CouponDuration, start: Date, end: Date?
    ) {
        (self.coupon, self.name, self.percentOff) = (coupon, name, percentOff)
        (self.amountOff, self.currency) = (amountOff.map { DecimalText($0.formatted) }, amountOff?.currency.code)
        (self.duration, self.start, self.end) = (duration, start, end)
    }
}

/// One rate's tax on an invoice line or, summed, on the invoice.
public struct InvoiceTaxAmount: Codable, Sendable {
    public var taxRate: String
    public var displayName: String
    public var percentage: Decimal
    public var inclusive: Bool
    public var amount: DecimalText

    public init(taxRate: String, displayName: String, percentage: Decimal, inclusive: Bool, amount: Money) {
        (self.taxRate, self.displayName, self.percentage, self.inclusive, self.amount) =
            (taxRate, displayName, percentage, inclusive, DecimalText(amount.formatted))
    }
}

/// A coupon's part of an invoice's discount.
public struct InvoiceDiscountAmount: Codable, Sendable {
    public var coupon: String
    public var amount: DecimalText

    public init(coupon: String, amount: Money) {
        (self.coupon, self.amount) = (coupon, DecimalText(amount.formatted))
    }
}

/// A credit note on an invoice.
public struct CreditNote: Codable, Sendable {
    public struct Line: Codable, Sendable {
        public var line: Int
        public var amount: DecimalText

        public init(line: Int, amount: Money) { (self.line, self.amount) = (line, amount.text) }
    }

    public var id: String
    public var object = "credit_note"
    public var number: String
    public var invoice: String
    public var customerID: String
    public var currency: String
    public var amount: DecimalText
    public var lines: [Line]
    @Nullable public var reason: CreditNoteReason?
    @Nullable public var memo: String?
    /// `lowers_amount_due`, `refund` or `customer_balance`.
    public var effect: CreditNoteEffect
    @Nullable public var refund: String?
    /// `issued` or `void`.
    public var status: String
    @Nullable public var voidedAt: Date?
    public var metadata: [String: String]
    public var createdAt: Date

    public init(
        id: String, number: String, invoice: String, customerID: String, amount: Money, lines: [Line], reason: CreditNoteReason?,
        memo: String?, effect: CreditNoteEffect, refund: String?, status: String, voidedAt: Date?, metadata: [String: String],
        createdAt: Date
    ) {
        (self.id, self.number, self.invoice, self.customerID) = (id, number, invoice, customerID)
        (self.currency, self.amount, self.lines, self.reason, self.memo) = (amount.currency.code, amount.text, lines, reason, memo)
        (self.effect, self.refund, self.status, self.voidedAt, self.metadata, self.createdAt) =
            (effect, refund, status, voidedAt, metadata, createdAt)
    }
}

/// A tenant and its settings, shown on its invoices.
public struct Tenant: Codable, Sendable {
    public var id: String
    public var object = "tenant"
    public var name: String
    @Nullable public var address: PostalAddress?
    @Nullable public var taxID: String?
    @Nullable public var defaultCurrency: String?
    public var invoicePrefix: String
    public var createdAt, updatedAt: Date

    public init(
        id: String, name: String, address: PostalAddress?, taxID: String?, defaultCurrency: String?, invoicePrefix: String,
        createdAt: Date, updatedAt: Date
    ) {
        (self.id, self.name, self.address, self.taxID, self.defaultCurrency) = (id, name, address, taxID, defaultCurrency)
        (self.invoicePrefix, self.createdAt, self.updatedAt) = (invoicePrefix, createdAt, updatedAt)
    }
}
