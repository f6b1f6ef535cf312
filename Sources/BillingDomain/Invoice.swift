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

/// An invoice's figures from its lines and the customer's credit balance.
///
/// `total` is the sum of the lines (no tax or discounts yet). A customer credit is applied up to the
/// total; `amountDue = max(0, total − creditApplied)`. A negative total (a downgrade's proration)
/// is due as zero and its magnitude joins the credit balance, to be applied to the next invoices.
public struct InvoiceTotals: Sendable, Hashable {
    public let currency: Currency
    public let subtotal: Money
    public let total: Money
    /// The part of the customer's credit balance this invoice uses (≥ 0).
    public let creditApplied: Money
    public let amountDue: Money
    /// The customer's credit balance once this invoice is finalised (≥ 0).
    public let endingCredit: Money

    /// - Parameter creditBalance: the customer's available credit (≥ 0), nil for none; its currency
    ///   must be the invoice's.
    public init(lines: [InvoiceLine], currency: Currency, creditBalance: Money? = nil) throws(BillingRuleError) {
        var subtotal = Money(0, currency)
        for line in lines {
            guard line.amount.currency == currency else { throw .currencyMismatch(currency, line.amount.currency) }
            subtotal = subtotal + line.amount
        }
        let credit = creditBalance ?? Money(0, currency)
        guard credit.currency == currency else { throw .currencyMismatch(currency, credit.currency) }
        let available = Money(max(credit.amount, 0), currency)

        self.currency = currency
        self.subtotal = subtotal
        self.total = subtotal
        if subtotal.amount <= 0 {
            creditApplied = Money(0, currency)
            amountDue = Money(0, currency)
            endingCredit = available - subtotal
        } else {
            creditApplied = Money(min(available.amount, subtotal.amount), currency)
            amountDue = subtotal - creditApplied
            endingCredit = available - creditApplied
        }
    }
}
