import Foundation

/// What a credit note does with its amount (DESIGN §13).
public enum CreditNoteEffect: String, Sendable, Hashable, Codable, CaseIterable {
    /// An unpaid invoice owes less.
    case lowersAmountDue = "lowers_amount_due"
    /// A paid invoice's charge is refunded through the payment provider.
    case refund
    /// A paid invoice's amount goes to the customer's credit balance, for its next invoices.
    case customerBalance = "customer_balance"
}

/// The figures of an invoice a credit note is checked against.
public struct CreditableInvoice: Sendable, Hashable {
    public var paid: Bool
    public var total: Money
    public var amountDue: Money
    public var amountPaid: Money
    /// The sum of its credit notes not voided.
    public var credited: Money
    public var refunded: Money

    public init(paid: Bool, total: Money, amountDue: Money, amountPaid: Money, credited: Money, refunded: Money) {
        (self.paid, self.total, self.amountDue, self.amountPaid, self.credited, self.refunded) =
            (paid, total, amountDue, amountPaid, credited, refunded)
    }
}

/// Credit-note rules: never more than the invoice's total (less what earlier notes credited), an
/// unpaid invoice's note lowers what is still due, a paid one's is refunded (never more than was
/// paid and not yet refunded) or goes to the customer's balance.
public enum CreditNoteRules {
    /// The effect of a note of `amount` on `invoice`; `refund` is the caller's choice for a paid invoice.
    public static func effect(of amount: Money, refund: Bool, on invoice: CreditableInvoice) throws(BillingRuleError)
        -> CreditNoteEffect
    {
        let currency = invoice.total.currency
        guard amount.currency == currency else { throw .currencyMismatch(currency, amount.currency, field: "amount") }
        guard amount.amount > 0, amount.rounded() == amount else {
            throw BillingRuleError(
                .invalidCreditNote, "a credit note's amount is above zero, in the currency's minor units", field: "amount")
        }
        let creditable = invoice.total - invoice.credited
        guard amount.amount <= creditable.amount else {
            throw BillingRuleError(
                .invalidCreditNote,
                "at most \(Money(max(creditable.amount, 0), currency)) of this invoice can still be credited", field: "amount")
        }
        if !invoice.paid {
            guard !refund else {
                throw BillingRuleError(.invalidCreditNote, "nothing was paid on this invoice to refund", field: "refund")
            }
            let remaining = invoice.amountDue - invoice.amountPaid
            guard amount.amount <= remaining.amount else {
                throw BillingRuleError(
                    .invalidCreditNote, "the invoice still owes \(remaining): a credit note cannot lower it further",
                    field: "amount")
            }
            return .lowersAmountDue
        }
        guard refund else { return .customerBalance }
        let refundable = invoice.amountPaid - invoice.refunded
        guard amount.amount <= refundable.amount else {
            throw BillingRuleError(
                .invalidCreditNote, "at most \(Money(max(refundable.amount, 0), currency)) paid on this invoice can be refunded",
                field: "amount")
        }
        return .refund
    }
}

/// A credit note's number, `CN-000001`: a per-tenant gapless sequence, formatted as invoice numbers are.
public struct CreditNoteNumber: Sendable, Hashable, CustomStringConvertible {
    public let sequence: Int

    public init(sequence: Int) throws(BillingRuleError) {
        guard sequence >= 1 else {
            throw BillingRuleError(.invalidInvoiceNumber, "credit note sequence must start at 1, got \(sequence)")
        }
        self.sequence = sequence
    }

    public var description: String { DocumentNumber.format("CN", sequence) }
}

/// The one format of document numbers: a prefix, `-`, the sequence zero-padded to six digits.
enum DocumentNumber {
    static func format(_ prefix: String, _ sequence: Int) -> String {
        let digits = String(sequence)
        return prefix + "-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }
}
