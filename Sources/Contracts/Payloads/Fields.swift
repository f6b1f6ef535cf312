import BillingDomain
import Foundation
import MessageBus

/// An ISO 4217 code in capitals that the platform bills in (`USD`, `JPY`, `KWD`).
public struct CurrencyCode: Decodable, Sendable, Hashable {
    public let currency: Currency

    public init(from decoder: any Decoder) throws {
        let code = try decoder.singleValueContainer().decode(String.self)
        guard code.count == 3, code.allSatisfy({ $0.isASCII && $0.isUppercase }), let currency = Currency(code: code) else {
            throw FieldError("must be an ISO 4217 code in capitals, such as USD, EUR or JPY")
        }
        self.currency = currency
    }
}

/// An email address (`local@domain.tld`, at most 254 characters), lowercased: customers' and
/// logins' emails are unique per tenant whatever case they were typed in.
public struct EmailAddress: Decodable, Sendable, Hashable {
    public let value: String

    public init(from decoder: any Decoder) throws {
        let text = try Text<1, 254>(from: decoder).value
        guard Self.isValid(text) else { throw FieldError("must be an email address such as ada@example.com") }
        value = text.lowercased()
    }

    /// A deliberately plain check: one `@`, a local part of at most 64 characters, a dotted domain of
    /// letters, digits and hyphens, no spaces. Deliverability is the mail server's question.
    public static func isValid(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64 else { return false }
        let local = parts[0]
        let allowedLocal = CharacterSet(charactersIn: "!#$%&'*+-/=?^_`{|}~.").union(.alphanumerics)
        guard local.unicodeScalars.allSatisfy({ $0.isASCII && allowedLocal.contains($0) }),
            !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..")
        else { return false }
        let labels = parts[1].split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return false }
        for label in labels {
            guard (1...63).contains(label.count), !label.hasPrefix("-"), !label.hasSuffix("-"),
                label.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-") })
            else { return false }
        }
        return labels.last.map { $0.allSatisfy(\.isLetter) } ?? false
    }
}
