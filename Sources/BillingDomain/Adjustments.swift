import Foundation

/// A tax rate applied to invoice lines (DESIGN §13): `percentage` of the line's amount after
/// discounts, added to it (exclusive) or carved out of it (inclusive).
public struct TaxRate: Sendable, Hashable {
    public let id: String
    /// 0 < percentage ≤ 100, at most four decimals (`19`, `8.875`).
    public let percentage: Decimal
    public let inclusive: Bool

    public init(id: String, percentage: Decimal, inclusive: Bool) throws(BillingRuleError) {
        guard percentage > 0, percentage <= 100, Self.decimals(of: percentage) <= 4 else {
            throw BillingRuleError(
                .invalidTaxRate, "a tax percentage is above 0, at most 100, with at most 4 decimals", field: "percentage")
        }
        self.id = id
        self.percentage = percentage
        self.inclusive = inclusive
    }

    /// The decimals `value` needs (`10.50` needs 1, `8.875` 3).
    static func decimals(of value: Decimal) -> Int {
        var places = 0
        var scaled = value
        while places < 20 {
            var whole = Decimal()
            NSDecimalRound(&whole, &scaled, 0, .plain)
            if whole == scaled { return places }
            scaled *= 10
            places += 1
        }
        return places
    }
}

/// What a coupon takes off: a percentage of every line, or a fixed amount spread over the lines.
public enum DiscountValue: Sendable, Hashable {
    /// 0 < percent ≤ 100, at most two decimals.
    case percentOff(Decimal)
    /// A positive amount in the invoice's currency.
    case amountOff(Money)

    /// Checks the value a coupon is created with; `field` names the parameter at fault.
    public func validated() throws(BillingRuleError) -> DiscountValue {
        switch self {
        case .percentOff(let percent):
            guard percent > 0, percent <= 100, TaxRate.decimals(of: percent) <= 2 else {
                throw BillingRuleError(
                    .invalidDiscount, "percent_off is above 0, at most 100, with at most 2 decimals", field: "percent_off")
            }
        case .amountOff(let amount):
            guard amount.amount > 0, amount.rounded() == amount else {
                throw BillingRuleError(
                    .invalidDiscount, "amount_off is a positive amount in the currency's minor units", field: "amount_off")
            }
        }
        return self
    }
}

/// A coupon applied to an invoice.
public struct Discount: Sendable, Hashable {
    public let coupon: String
    public let value: DiscountValue

    public init(coupon: String, value: DiscountValue) {
        self.coupon = coupon
        self.value = value
    }
}

/// One rate's tax on a line or, summed, on an invoice.
public struct TaxAmount: Sendable, Hashable {
    public let taxRate: String
    public let percentage: Decimal
    public let inclusive: Bool
    public let amount: Money

    public init(taxRate: String, percentage: Decimal, inclusive: Bool, amount: Money) {
        (self.taxRate, self.percentage, self.inclusive, self.amount) = (taxRate, percentage, inclusive, amount)
    }
}

/// A line with its discount and taxes.
public struct AdjustedLine: Sendable, Hashable {
    public let line: InvoiceLine
    /// The coupon's share of this line (zero without one; negative on a credit line under a percentage).
    public let discount: Money
    /// One per tax rate of the line, rounded on this line.
    public let taxes: [TaxAmount]

    /// `amount − discount`: what the taxes are computed on (inclusive taxes are inside it).
    public var taxable: Money { line.amount - discount }
    /// What the line adds to the invoice's total: its taxable amount and its exclusive taxes.
    public var net: Money {
        taxes.filter { !$0.inclusive }.reduce(taxable) { $0 + $1.amount }
    }
}

/// The order of operations on an invoice (DESIGN §13, as Stripe does it):
///
/// 1. every line's amount is rounded once (``InvoiceLine``), proration lines included;
/// 2. the discount is taken per line, before tax: a percentage of each line, rounded on the line
///    (a credit line's credit shrinks by the same percentage); an amount off is capped at the
///    subtotal (never below zero) and spread over the positive lines in proportion to their
///    amounts, each share rounded and the rounding remainder put on the largest line, so the
///    shares sum to the capped amount exactly;
/// 3. each tax rate of a line is applied to the line's amount after its discount: exclusive
///    `taxable × p / 100`; inclusive (already in the price) `taxable × p / (100 + Σ inclusive p)`;
///    each rounded on the line, half away from zero;
/// 4. `total = subtotal − discount + exclusive tax`; the customer's credit applies to the total.
public enum InvoiceAdjustments {
    public static func apply(_ lines: [InvoiceLine], discount: Discount?, currency: Currency) throws(BillingRuleError)
        -> [AdjustedLine]
    {
        let discounts = try lineDiscounts(lines, discount, currency: currency)
        return zip(lines, discounts).map { line, discount in
            AdjustedLine(line: line, discount: discount, taxes: taxes(on: line.amount - discount, line.taxRates))
        }
    }

    static func lineDiscounts(_ lines: [InvoiceLine], _ discount: Discount?, currency: Currency) throws(BillingRuleError)
        -> [Money]
    {
        let zero = Money(0, currency)
        guard let discount else { return lines.map { _ in zero } }
        switch discount.value {
        case .percentOff(let percent):
            return lines.map { share(of: $0.amount, times: percent, over: 100) }
        case .amountOff(let amount):
            guard amount.currency == currency else { throw .currencyMismatch(currency, amount.currency, field: "coupon") }
            let subtotal = lines.reduce(zero) { $0 + $1.amount }
            let positive = lines.reduce(zero) { $1.amount.amount > 0 ? $0 + $1.amount : $0 }
            let capped = Money(min(amount.amount, max(subtotal.amount, 0)), currency)
            guard capped.amount > 0, positive.amount > 0 else { return lines.map { _ in zero } }
            var shares = lines.map { line in
                line.amount.amount > 0 ? share(of: capped, times: line.amount.amount, over: positive.amount) : zero
            }
            let remainder = capped - shares.reduce(zero, +)
            if remainder.amount != 0, let largest = lines.indices.max(by: { lines[$0].amount.amount < lines[$1].amount.amount }) {
                shares[largest] = shares[largest] + remainder
            }
            return shares
        }
    }

    static func taxes(on taxable: Money, _ rates: [TaxRate]) -> [TaxAmount] {
        let inclusiveSum = rates.filter(\.inclusive).reduce(Decimal(0)) { $0 + $1.percentage }
        return rates.map { rate in
            let amount =
                rate.inclusive
                ? share(of: taxable, times: rate.percentage, over: 100 + inclusiveSum)
                : share(of: taxable, times: rate.percentage, over: 100)
            return TaxAmount(taxRate: rate.id, percentage: rate.percentage, inclusive: rate.inclusive, amount: amount)
        }
    }

    /// `amount × numerator / denominator`, rounded once to the minor unit, half away from zero, exactly.
    static func share(of amount: Money, times numerator: Decimal, over denominator: Decimal) -> Money {
        let scale = pow(Decimal(10), amount.currency.exponent)
        let minor = Proration.roundedQuotient(abs(amount.amount) * scale * numerator, denominator)
        let magnitude = minor / scale
        return Money(amount.amount < 0 ? -magnitude : magnitude, amount.currency)
    }
}
