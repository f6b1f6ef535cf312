import Foundation

/// One line of an invoice: `amount = quantity × unit_amount`, rounded once, here.
public struct InvoiceLine: Sendable, Hashable {
    public let description: String
    public let period: BillingPeriod
    public let quantity: Int
    public let unitAmount: Money
    /// `quantity × unitAmount`, rounded to the currency's minor unit, half away from zero.
    public let amount: Money
    /// True for the credit and charge lines of a plan change or a prorated cancel.
    public let proration: Bool
    /// The tax rates applied to this line (after its discount), in order.
    public var taxRates: [TaxRate] = []

    public init(
        description: String, period: BillingPeriod, quantity: Int = 1, unitAmount: Money, proration: Bool = false
    ) throws(BillingRuleError) {
        guard quantity >= 1 else {
            throw BillingRuleError(.invalidQuantity, "quantity must be at least 1, got \(quantity)", field: "quantity")
        }
        self.description = description
        self.period = period
        self.quantity = quantity
        self.unitAmount = unitAmount
        self.amount = (unitAmount * Decimal(quantity)).rounded()
        self.proration = proration
    }

    /// A proration line for an amount ``Proration`` has already rounded.
    public init(prorationOf amount: Money, description: String, period: BillingPeriod) {
        self.description = description
        self.period = period
        self.quantity = 1
        self.unitAmount = amount
        self.amount = amount.rounded()
        self.proration = true
    }
}

extension InvoiceLine {
    /// The same line with `rates` as its tax rates.
    public func taxed(_ rates: [TaxRate]) -> InvoiceLine {
        var line = self
        line.taxRates = rates
        return line
    }
}

/// An invoice's figures from its lines, its discount, its lines' taxes and the customer's credit
/// balance (the order of operations is ``InvoiceAdjustments``'s).
///
/// `subtotal` is the sum of the lines; `total = subtotal − discount + exclusive tax`. A customer
/// credit is applied up to the total; `amountDue = max(0, total − creditApplied)`. A negative total
/// (a downgrade's proration) is due as zero and its magnitude joins the credit balance, to be
/// applied to the next invoices.
public struct InvoiceTotals: Sendable, Hashable {
    public let currency: Currency
    public let subtotal: Money
    /// Every line with its discount and taxes.
    public let lines: [AdjustedLine]
    /// The sum of the lines' discounts.
    public let discountAmount: Money
    /// Per tax rate, in the order the rates first appear on the lines: the sum of its line taxes.
    public let totalTaxAmounts: [TaxAmount]
    /// The exclusive taxes (added to the total); inclusive ones are already in the subtotal.
    public let tax: Money
    public let total: Money
    /// The part of the customer's credit balance this invoice uses (≥ 0).
    public let creditApplied: Money
    public let amountDue: Money
    /// The customer's credit balance once this invoice is finalised (≥ 0).
    public let endingCredit: Money

    /// - Parameter creditBalance: the customer's available credit (≥ 0), nil for none; its currency
    ///   must be the invoice's.
    public init(lines: [InvoiceLine], currency: Currency, creditBalance: Money? = nil, discount: Discount? = nil)
        throws(BillingRuleError)
    {
        let zero = Money(0, currency)
        var subtotal = zero
        for line in lines {
            guard line.amount.currency == currency else { throw .currencyMismatch(currency, line.amount.currency) }
            subtotal = subtotal + line.amount
        }
        let credit = creditBalance ?? zero
        guard credit.currency == currency else { throw .currencyMismatch(currency, credit.currency) }
        let available = Money(max(credit.amount, 0), currency)
        let adjusted = try InvoiceAdjustments.apply(lines, discount: discount, currency: currency)
        var perRate: [TaxAmount] = []
        for tax in adjusted.flatMap(\.taxes) {
            if let index = perRate.firstIndex(where: { $0.taxRate == tax.taxRate }) {
                let sum = perRate[index]
                perRate[index] = TaxAmount(
                    taxRate: sum.taxRate, percentage: sum.percentage, inclusive: sum.inclusive, amount: sum.amount + tax.amount)
            } else {
                perRate.append(tax)
            }
        }
        let total = adjusted.reduce(zero) { $0 + $1.net }

        self.currency = currency
        self.subtotal = subtotal
        self.lines = adjusted
        self.discountAmount = adjusted.reduce(zero) { $0 + $1.discount }
        self.totalTaxAmounts = perRate
        self.tax = perRate.filter { !$0.inclusive }.reduce(zero) { $0 + $1.amount }
        self.total = total
        let application = CreditApplication(total: total, balance: available)
        (creditApplied, amountDue, endingCredit) = (application.applied, application.amountDue, application.endingBalance)
    }
}

/// A customer's credit balance applied to an invoice's total: up to the total; a negative total is
/// due as zero and its magnitude joins the balance.
public struct CreditApplication: Sendable, Hashable {
    public let applied: Money
    public let amountDue: Money
    public let endingBalance: Money

    /// `balance` ≥ 0 in the total's currency (a negative one counts as zero).
    public init(total: Money, balance: Money) {
        let zero = Money(0, total.currency)
        let available = Money(max(balance.amount, 0), total.currency)
        if total.amount <= 0 {
            (applied, amountDue, endingBalance) = (zero, zero, available - total)
        } else {
            applied = Money(min(available.amount, total.amount), total.currency)
            amountDue = total - applied
            endingBalance = available - applied
        }
    }
}
