import BillingDomain
import Foundation

/// A UTC instant from an RFC 3339 string such as "2024-01-31T10:00:00Z".
func utc(_ text: String) -> Date {
    guard let date = try? Date(text, strategy: .iso8601) else { preconditionFailure("bad test date \(text)") }
    return date
}

/// An instant as the API shows it.
func rfc3339(_ date: Date) -> String { date.formatted(.iso8601) }

let usd = Currency(code: "USD")!
let jpy = Currency(code: "JPY")!
let kwd = Currency(code: "KWD")!
let eur = Currency(code: "EUR")!

/// An amount from its decimal string, exactly.
func money(_ text: String, _ currency: Currency = usd) -> Money {
    Money(Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))!, currency)
}
