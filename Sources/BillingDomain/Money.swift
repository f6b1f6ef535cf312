import Foundation

/// An exact amount in a currency. Arithmetic stays exact; ``rounded()`` rounds once, at the line
/// item, to the currency's minor unit, half away from zero.
public struct Money: Sendable, Hashable, Codable, CustomStringConvertible {
    public var amount: Decimal
    public var currency: Currency

    public init(_ amount: Decimal, _ currency: Currency) {
        self.amount = amount
        self.currency = currency
    }

    /// Why a decimal string is not a valid amount.
    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case notADecimal(String)
        case tooPrecise(String, currency: String, exponent: Int)
        case negative(String)

        public var description: String {
            switch self {
            case .notADecimal(let s): "'\(s)' is not a decimal amount such as \"19.99\""
            case .tooPrecise(let s, let c, let e): "'\(s)' has more than \(e) decimal places, the most \(c) allows"
            case .negative(let s): "'\(s)' is negative"
            }
        }
    }

    /// Parses a JSON decimal string (`"19.99"`) for a currency, refusing more decimals than its minor unit.
    public init(parsing text: String, _ currency: Currency, allowNegative: Bool = false) throws(ParseError) {
        let pattern = /^-?[0-9]{1,18}(\.[0-9]+)?$/
        guard text.wholeMatch(of: pattern) != nil, let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
        else { throw .notADecimal(text) }
        let decimals = text.split(separator: ".", maxSplits: 1).dropFirst().first?.count ?? 0
        // Trailing zeros beyond the exponent are harmless ("10.500" USD is 10.50).
        if decimals > currency.exponent {
            let fraction = text.split(separator: ".")[1]
            if fraction.dropFirst(currency.exponent).contains(where: { $0 != "0" }) {
                throw .tooPrecise(text, currency: currency.code, exponent: currency.exponent)
            }
        }
        if value < 0 && !allowNegative { throw .negative(text) }
        self.init(value, currency)
    }

    /// Rounded to the currency's minor unit, half away from zero (2.345 USD → 2.35, -2.345 → -2.35).
    public func rounded() -> Money {
        var value = amount
        var result = Decimal()
        NSDecimalRound(&result, &value, currency.exponent, .plain)
        return Money(result, currency)
    }

    /// The amount as a decimal string with exactly the currency's minor-unit digits (`"19.90"`, `"100"`).
    public var formatted: String {
        let rounded = self.rounded().amount
        let negative = rounded < 0
        let magnitude = negative ? -rounded : rounded
        let scale = pow(Decimal(10), currency.exponent)
        let minor = NSDecimalNumber(decimal: magnitude * scale).stringValue
        let digits = String(repeating: "0", count: max(0, currency.exponent + 1 - minor.count)) + minor
        let cut = digits.index(digits.endIndex, offsetBy: -currency.exponent)
        let text = currency.exponent == 0 ? digits : digits[..<cut] + "." + digits[cut...]
        return (negative ? "-" : "") + text
    }

    public var description: String { "\(formatted) \(currency.code)" }

    public static func + (a: Money, b: Money) -> Money {
        precondition(a.currency == b.currency, "adding \(a.currency) to \(b.currency)")
        return Money(a.amount + b.amount, a.currency)
    }

    public static func - (a: Money, b: Money) -> Money {
        precondition(a.currency == b.currency, "subtracting \(b.currency) from \(a.currency)")
        return Money(a.amount - b.amount, a.currency)
    }

    public static func * (a: Money, factor: Decimal) -> Money { Money(a.amount * factor, a.currency) }
}

extension Money {
    /// The same amount with the opposite sign (a charge turned into a credit).
    public static prefix func - (a: Money) -> Money { Money(-a.amount, a.currency) }
}
