import BillingDomain
import Foundation
import Testing

@Suite("Money and currencies")
struct MoneyTests {
    let usd = Currency(code: "USD")!
    let jpy = Currency(code: "jpy")!
    let kwd = Currency(code: "KWD")!

    @Test func currenciesCarryTheirMinorUnit() {
        #expect(usd.exponent == 2 && jpy.exponent == 0 && kwd.exponent == 3)
        #expect(jpy.code == "JPY")
        #expect(Currency(code: "XYZ") == nil)
    }

    @Test(arguments: [
        ("2.345", "USD", "2.35"), ("-2.345", "USD", "-2.35"), ("2.344", "USD", "2.34"), ("0.005", "USD", "0.01"),
        ("-0.005", "USD", "-0.01"), ("100.5", "JPY", "101"), ("-100.5", "JPY", "-101"), ("99.4", "JPY", "99"),
        ("1.2345", "KWD", "1.235"), ("1.2344", "KWD", "1.234"), ("19.9", "USD", "19.90"), ("0", "USD", "0.00"),
    ])
    func roundsHalfAwayFromZeroAtTheMinorUnit(amount: String, code: String, expected: String) throws {
        let money = Money(Decimal(string: amount)!, Currency(code: code)!)
        #expect(money.rounded().formatted == expected)
    }

    @Test func parsingRefusesMorePrecisionThanTheCurrencyHas() throws {
        #expect(try Money(parsing: "19.99", usd).amount == Decimal(string: "19.99"))
        #expect(throws: Money.ParseError.tooPrecise("19.999", currency: "USD", exponent: 2)) {
            try Money(parsing: "19.999", usd)
        }
        #expect(throws: Money.ParseError.tooPrecise("100.5", currency: "JPY", exponent: 0)) {
            try Money(parsing: "100.5", jpy)
        }
        #expect(try Money(parsing: "10.500", usd).formatted == "10.50")
        #expect(try Money(parsing: "1.001", kwd).formatted == "1.001")
        #expect(throws: Money.ParseError.notADecimal("1e3")) { try Money(parsing: "1e3", usd) }
        #expect(throws: Money.ParseError.notADecimal("{\"$gt\": \"\"}")) { try Money(parsing: "{\"$gt\": \"\"}", usd) }
        #expect(throws: Money.ParseError.negative("-1.00")) { try Money(parsing: "-1.00", usd) }
    }

    @Test func arithmeticIsExact() {
        // 0.1 + 0.2 is exactly 0.3 in Decimal, unlike Double.
        let sum = Money(Decimal(string: "0.1")!, usd) + Money(Decimal(string: "0.2")!, usd)
        #expect(sum.amount == Decimal(string: "0.3"))
        let third = Money(Decimal(10), usd) * (Decimal(1) / Decimal(3))
        #expect(third.rounded().formatted == "3.33")
    }
}
