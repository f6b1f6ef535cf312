import BillingDomain
import Foundation
import Testing

@Suite("Invoice arithmetic")
struct InvoiceTests {
    let march = BillingPeriod(start: utc("2024-02-29T10:00:00Z"), end: utc("2024-03-31T10:00:00Z"))

    @Test(arguments: [
        ("USD", 7, "19.99", "139.93"),
        ("USD", 3, "0.125", "0.38"),  // 0.375: rounded once, on the line
        ("USD", 1, "0.005", "0.01"),
        ("JPY", 3, "333", "999"),
        ("JPY", 3, "0.5", "2"),  // 1.5 → 2
        ("KWD", 2, "1.2345", "2.469"),
        ("KWD", 1, "-1.0005", "-1.001"),
    ])
    func lineAmountIsQuantityTimesUnitRoundedOnce(code: String, quantity: Int, unit: String, amount: String) throws {
        let currency = try #require(Currency(code: code))
        let line = try InvoiceLine(
            description: "Pro", period: march, quantity: quantity, unitAmount: money(unit, currency))
        #expect(line.amount.formatted == amount)
        #expect(line.unitAmount.amount == Decimal(string: unit))  // the unit amount itself is kept as given
        #expect(!line.proration)
    }

    @Test(arguments: [0, -2])
    func quantityBelowOneIsRefused(quantity: Int) {
        #expect {
            try InvoiceLine(description: "Pro", period: march, quantity: quantity, unitAmount: money("10.00"))
        } throws: { error in
            let error = error as? BillingRuleError
            return error?.code == .invalidQuantity && error?.field == "quantity"
        }
    }

    /// (line amounts, credit balance) → subtotal/total, credit applied, amount due, credit left.
    @Test(arguments: [
        (["30.00"], nil, "30.00", "0.00", "30.00", "0.00"),
        (["30.00"], "13.11", "30.00", "13.11", "16.89", "0.00"),
        (["30.00"], "30.00", "30.00", "30.00", "0.00", "0.00"),
        (["30.00"], "45.00", "30.00", "30.00", "0.00", "15.00"),
        (["-6.55", "19.66"], "0.00", "13.11", "0.00", "13.11", "0.00"),
        // A downgrade invoice: nothing due, its credit joins the balance.
        (["-19.66", "6.55"], "2.00", "-13.11", "0.00", "0.00", "15.11"),
        ([], "5.00", "0.00", "0.00", "0.00", "5.00"),
        (["10.00", "0.01", "0.02"], "0.02", "10.03", "0.02", "10.01", "0.00"),
    ] as [([String], String?, String, String, String, String)])
    func creditBalanceIsAppliedUpToTheTotal(
        lines: [String], credit: String?, subtotal: String, applied: String, due: String, left: String
    ) throws {
        let invoiceLines = try lines.map { try InvoiceLine(description: "line", period: march, unitAmount: money($0)) }
        let totals = try InvoiceTotals(lines: invoiceLines, currency: usd, creditBalance: credit.map { money($0) })
        #expect(totals.subtotal.formatted == subtotal)
        #expect(totals.total.formatted == subtotal)
        #expect(totals.creditApplied.formatted == applied)
        #expect(totals.amountDue.formatted == due)
        #expect(totals.endingCredit.formatted == left)
    }

    @Test func yenInvoiceWithProrationAndCredit() throws {
        let lines = [
            try InvoiceLine(description: "Pro", period: march, unitAmount: money("1000", jpy)),
            InvoiceLine(prorationOf: money("-333", jpy), description: "Unused time on Basic", period: march),
        ]
        let totals = try InvoiceTotals(lines: lines, currency: jpy, creditBalance: money("700", jpy))
        #expect(totals.total.formatted == "667")
        #expect(totals.creditApplied.formatted == "667")
        #expect(totals.amountDue.formatted == "0")
        #expect(totals.endingCredit.formatted == "33")
        #expect(lines[1].proration)
    }

    @Test func totalIsTheSumOfTheRoundedLines() throws {
        // Three lines of 1/3 of 10.00 each round to 3.33: the total is 9.99, not 10.00.
        let third = money("10.00") * (Decimal(1) / Decimal(3))
        let lines = try (0..<3).map { _ in try InvoiceLine(description: "⅓", period: march, unitAmount: third) }
        let totals = try InvoiceTotals(lines: lines, currency: usd)
        #expect(totals.total.formatted == "9.99")
        #expect(totals.total.amount == lines.map(\.amount.amount).reduce(0, +))
    }

    @Test func linesOrCreditInAnotherCurrencyAreRefused() throws {
        let euroLine = try InvoiceLine(description: "Pro", period: march, unitAmount: money("10.00", eur))
        #expect {
            try InvoiceTotals(lines: [euroLine], currency: usd)
        } throws: { error in
            (error as? BillingRuleError)?.message == "amounts in EUR cannot be combined with amounts in USD"
        }
        let dollarLine = try InvoiceLine(description: "Pro", period: march, unitAmount: money("10.00"))
        #expect {
            try InvoiceTotals(lines: [dollarLine], currency: usd, creditBalance: money("5", jpy))
        } throws: { error in
            (error as? BillingRuleError)?.code == .currencyMismatch
        }
    }
}
