import BillingDomain
import Foundation
import Testing

@Suite("Discounts and taxes")
struct AdjustmentTests {
    let period = BillingPeriod(start: utc("2025-01-01T00:00:00Z"), end: utc("2025-02-01T00:00:00Z"))

    func lines(_ amounts: [String], _ currency: Currency = usd, taxes: [TaxRate] = []) throws -> [InvoiceLine] {
        try amounts.map { try InvoiceLine(description: "line", period: period, unitAmount: money($0, currency)).taxed(taxes) }
    }

    func percent(_ text: String) -> Discount { Discount(coupon: "co_test", value: .percentOff(Decimal(string: text)!)) }
    func off(_ text: String, _ currency: Currency = usd) -> Discount {
        Discount(coupon: "co_test", value: .amountOff(money(text, currency)))
    }
    func rate(_ id: String, _ percentage: String, inclusive: Bool = false) throws -> TaxRate {
        try TaxRate(id: id, percentage: Decimal(string: percentage)!, inclusive: inclusive)
    }

    /// (lines, discount) → per-line discounts, discount total, invoice total.
    @Test(arguments: [
        (["10.00"], "25%", ["2.50"], "2.50", "7.50"),
        // A percentage is rounded on each line: 3.333 → 3.33 and 0.016665 → 0.02.
        (["10.00", "0.05"], "33.33%", ["3.33", "0.02"], "3.35", "6.70"),
        // A credit line shrinks by the same percentage, half away from zero: -3.275 → -3.28.
        (["-6.55", "19.66"], "50%", ["-3.28", "9.83"], "6.55", "6.56"),
        (["10.00"], "100%", ["10.00"], "10.00", "0.00"),
        // An amount off is spread over the lines in proportion: 1.666… → 1.67, 3.333… → 3.33.
        (["10.00", "20.00"], "5.00", ["1.67", "3.33"], "5.00", "25.00"),
        (["3.33", "3.33", "3.34"], "10.00", ["3.33", "3.33", "3.34"], "10.00", "0.00"),
        // Never below zero: capped at the subtotal.
        (["30.00"], "50.00", ["30.00"], "30.00", "0.00"),
        (["0.01", "0.01", "0.01"], "1.00", ["0.01", "0.01", "0.01"], "0.03", "0.00"),
        // Nothing to discount on a credit invoice; credit lines take no share of an amount off.
        (["-19.66", "6.55"], "5.00", ["0.00", "0.00"], "0.00", "-13.11"),
        (["-5.00", "20.00"], "30.00", ["0.00", "15.00"], "15.00", "0.00"),
    ] as [([String], String, [String], String, String)])
    func discountsComeOffEachLine(amounts: [String], coupon: String, perLine: [String], discount: String, total: String) throws {
        let value = coupon.hasSuffix("%") ? percent(String(coupon.dropLast())) : off(coupon)
        let totals = try InvoiceTotals(lines: try lines(amounts), currency: usd, discount: value)
        #expect(totals.lines.map(\.discount.formatted) == perLine)
        #expect(totals.discountAmount.formatted == discount)
        #expect(totals.total.formatted == total)
        #expect(totals.total == totals.lines.reduce(Money(0, usd)) { $0 + $1.line.amount - $1.discount })
    }

    @Test func anAmountOffsRoundingRemainderGoesToOneLineSoTheSharesSumExactly() throws {
        // 0.10 over three equal lines: 0.0333… rounds to 0.03 each; the 0.01 left goes to one line.
        let totals = try InvoiceTotals(lines: try lines(["1.00", "1.00", "1.00"]), currency: usd, discount: off("0.10"))
        #expect(totals.discountAmount.formatted == "0.10")
        #expect(totals.lines.map(\.discount.formatted).sorted() == ["0.03", "0.03", "0.04"])
        // 0.01 over two equal lines: 0.005 rounds up on both; one gives the extra cent back.
        let two = try InvoiceTotals(lines: try lines(["1.00", "1.00"]), currency: usd, discount: off("0.01"))
        #expect(two.lines.map(\.discount.formatted).sorted() == ["0.00", "0.01"])
        // JPY has no minor unit: 33.3 → 33 and 66.7 → 67.
        let yen = try InvoiceTotals(lines: try lines(["333", "667"], jpy), currency: jpy, discount: off("100", jpy))
        #expect(yen.lines.map(\.discount.formatted) == ["33", "67"])
    }

    @Test func anAmountOffInAnotherCurrencyIsRefused() throws {
        #expect {
            try InvoiceTotals(lines: try lines(["10.00"]), currency: usd, discount: off("5.00", eur))
        } throws: { ($0 as? BillingRuleError)?.code == .currencyMismatch }
    }

    /// (lines, tax rates "id:percentage[:inclusive]", discount) → per-line taxes, total_tax_amounts, tax, total.
    @Test(arguments: [
        (["10.00"], ["vat:19"], nil, [["1.90"]], ["vat": "1.90"], "1.90", "11.90"),
        // 1.7741125 → 1.77
        (["19.99"], ["ny:8.875"], nil, [["1.77"]], ["ny": "1.77"], "1.77", "21.76"),
        // Inclusive: carved out of the price, the total unchanged. 12 × 20/120 = 2.00.
        (["12.00"], ["vat:20:inclusive"], nil, [["2.00"]], ["vat": "2.00"], "0.00", "12.00"),
        // 9.99 × 7.7/107.7 = 0.7142… → 0.71
        (["9.99"], ["ch:7.7:inclusive"], nil, [["0.71"]], ["ch": "0.71"], "0.00", "9.99"),
        // Two inclusive rates share one denominator: 115 × 10/115 and 115 × 5/115.
        (["115.00"], ["a:10:inclusive", "b:5:inclusive"], nil, [["10.00", "5.00"]], ["a": "10.00", "b": "5.00"], "0.00", "115.00"),
        // Tax after discount: 20 % off 100, then 10 % on 80.
        (["100.00"], ["gst:10"], "20%", [["8.00"]], ["gst": "8.00"], "8.00", "88.00"),
        // Two exclusive rates, each rounded on its own: 9.975 → 9.98.
        (["100.00"], ["gst:5", "qst:9.975"], nil, [["5.00", "9.98"]], ["gst": "5.00", "qst": "9.98"], "14.98", "114.98"),
        // Rounded per line, then summed: 0.0057 → 0.01 on each (0.02), not 0.0114 → 0.01 on the sum.
        (["0.03", "0.03"], ["vat:19"], nil, [["0.01"], ["0.01"]], ["vat": "0.02"], "0.02", "0.08"),
        // A credit line's tax is a credit too: -1.2445 → -1.24.
        (["-6.55", "19.66"], ["vat:19"], nil, [["-1.24"], ["3.74"]], ["vat": "2.50"], "2.50", "15.61"),
        // An amount off, then tax on what is left: shares 1.67 and 3.33, tax on 8.33 and 16.67.
        (["10.00", "20.00"], ["vat:19"], "5.00", [["1.58"], ["3.17"]], ["vat": "4.75"], "4.75", "29.75"),
    ] as [([String], [String], String?, [[String]], [String: String], String, String)])
    func taxesAreComputedPerLineAfterTheDiscount(
        amounts: [String], rateSpecs: [String], coupon: String?, perLine: [[String]], perRate: [String: String], tax: String,
        total: String
    ) throws {
        let rates = try rateSpecs.map { spec in
            let parts = spec.split(separator: ":").map(String.init)
            return try rate(parts[0], parts[1], inclusive: parts.count > 2)
        }
        let discount = coupon.map { $0.hasSuffix("%") ? percent(String($0.dropLast())) : off($0) }
        let totals = try InvoiceTotals(lines: try lines(amounts, taxes: rates), currency: usd, discount: discount)
        #expect(totals.lines.map { $0.taxes.map(\.amount.formatted) } == perLine)
        #expect(Dictionary(uniqueKeysWithValues: totals.totalTaxAmounts.map { ($0.taxRate, $0.amount.formatted) }) == perRate)
        #expect(totals.totalTaxAmounts.map(\.taxRate) == rates.map(\.id))
        #expect(totals.tax.formatted == tax)
        #expect(totals.total.formatted == total)
        // The total is always subtotal − discount + exclusive tax, and the sum of the lines' nets.
        #expect(totals.total == totals.subtotal - totals.discountAmount + totals.tax)
        #expect(totals.total == totals.lines.reduce(Money(0, usd)) { $0 + $1.net })
    }

    @Test func taxesFollowTheCurrencysMinorUnit() throws {
        let kwdLine = try InvoiceLine(description: "Pro", period: period, unitAmount: money("1.234", kwd)).taxed([rate("vat", "5")])
        // 0.0617 → 0.062
        #expect(try InvoiceTotals(lines: [kwdLine], currency: kwd).tax.formatted == "0.062")
        let jpyLine = try InvoiceLine(description: "Pro", period: period, unitAmount: money("1005", jpy)).taxed([rate("ct", "10")])
        // 100.5 → 101
        #expect(try InvoiceTotals(lines: [jpyLine], currency: jpy).tax.formatted == "101")
    }

    @Test func theCreditBalanceAppliesToTheTotalAfterTax() throws {
        let totals = try InvoiceTotals(
            lines: try lines(["100.00"], taxes: [rate("gst", "10")]), currency: usd, creditBalance: money("50.00"),
            discount: percent("10"))
        #expect(totals.total.formatted == "99.00")
        #expect(totals.creditApplied.formatted == "50.00")
        #expect(totals.amountDue.formatted == "49.00")
        #expect(totals.endingCredit.formatted == "0.00")
    }

    @Test(arguments: ["0", "-5", "100.01", "19.12345"])
    func aTaxPercentageOutsideItsRangeIsRefused(text: String) {
        #expect {
            try TaxRate(id: "txr", percentage: Decimal(string: text)!, inclusive: false)
        } throws: { ($0 as? BillingRuleError)?.code == .invalidTaxRate && ($0 as? BillingRuleError)?.field == "percentage" }
    }

    @Test func validTaxPercentagesAreKeptExactly() throws {
        #expect(try rate("a", "100").percentage == 100)
        #expect(try rate("b", "8.8750").percentage == Decimal(string: "8.875"))
        #expect(try rate("c", "0.0001").percentage == Decimal(string: "0.0001"))
    }

    @Test(arguments: [
        (DiscountValue.percentOff(0), "percent_off"), (.percentOff(Decimal(string: "100.5")!), "percent_off"),
        (.percentOff(Decimal(string: "33.333")!), "percent_off"), (.amountOff(money("0")), "amount_off"),
        (.amountOff(money("0.005")), "amount_off"), (.amountOff(money("-1.00")), "amount_off"),
    ])
    func aCouponValueThatCannotApplyIsRefused(value: DiscountValue, field: String) {
        #expect {
            try value.validated()
        } throws: { ($0 as? BillingRuleError)?.code == .invalidDiscount && ($0 as? BillingRuleError)?.field == field }
    }

    @Test func couponValuesInRangeAreAccepted() throws {
        #expect(try DiscountValue.percentOff(Decimal(string: "33.30")!).validated() == .percentOff(Decimal(string: "33.3")!))
        #expect(try DiscountValue.amountOff(money("5.00")).validated() == .amountOff(money("5")))
    }
}

@Suite("Credit notes")
struct CreditNoteTests {
    func invoice(paid: Bool, total: String, due: String? = nil, paidAmount: String = "0", credited: String = "0", refunded: String = "0")
        -> CreditableInvoice
    {
        CreditableInvoice(
            paid: paid, total: money(total), amountDue: money(due ?? total), amountPaid: money(paidAmount),
            credited: money(credited), refunded: money(refunded))
    }

    /// (invoice, amount, refund) → effect or the field refused.
    @Test(arguments: [
        (false, "30.00", nil, "0", "0", "10.00", false, "lowers_amount_due"),
        (false, "30.00", nil, "0", "0", "30.00", false, "lowers_amount_due"),
        (false, "30.00", nil, "0", "0", "30.01", false, "amount"),
        (false, "30.00", nil, "0", "25.00", "5.01", false, "amount"),  // earlier notes count
        (false, "30.00", "20.00", "0", "0", "20.01", false, "amount"),  // credit balance paid 10.00 of it
        (false, "30.00", nil, "0", "0", "10.00", true, "refund"),  // nothing paid to refund
        (true, "30.00", nil, "30.00", "0", "30.00", true, "refund"),
        (true, "30.00", nil, "30.00", "0", "12.34", false, "customer_balance"),
        (true, "30.00", "20.00", "20.00", "0", "20.01", true, "amount"),  // never refund more than was paid
        (true, "30.00", "20.00", "20.00", "0", "25.00", false, "customer_balance"),
        (true, "30.00", nil, "30.00", "10.00", "20.01", true, "amount"),
        (true, "30.00", nil, "30.00", "0", "0.00", true, "amount"),
        (true, "30.00", nil, "30.00", "0", "0.001", true, "amount"),
    ] as [(Bool, String, String?, String, String, String, Bool, String)])
    func aCreditNoteNeverTakesMoreThanTheInvoiceAllows(
        paid: Bool, total: String, due: String?, paidAmount: String, credited: String, amount: String, refund: Bool,
        outcome: String
    ) {
        let figures = invoice(paid: paid, total: total, due: due, paidAmount: paid ? paidAmount : "0", credited: credited)
        do {
            let effect = try CreditNoteRules.effect(of: money(amount), refund: refund, on: figures)
            #expect(effect.rawValue == outcome)
        } catch {
            #expect(error.code == .invalidCreditNote && error.field == outcome, "\(error)")
        }
    }

    @Test func numbersAreGaplessAndPaddedLikeInvoiceNumbers() throws {
        #expect(try CreditNoteNumber(sequence: 1).description == "CN-000001")
        #expect(try CreditNoteNumber(sequence: 1_234_567).description == "CN-1234567")
        #expect(try InvoiceNumber(sequence: 42).description == "INV-000042")
        #expect(throws: BillingRuleError.self) { try CreditNoteNumber(sequence: 0) }
    }
}
