/// An invoice's number, `INV-000123`: the tenant's prefix (`INV` unless its settings say otherwise)
/// and a per-tenant sequence given when the invoice is finalised, zero-padded to six digits and
/// growing past them (`INV-1234567`).
public struct InvoiceNumber: Sendable, Hashable, Comparable, Codable, LosslessStringConvertible {
    public let sequence: Int
    public let prefix: String

    public static let defaultPrefix = "INV"

    /// Whether `prefix` can lead an invoice number: 1 to 12 capital letters or digits.
    public static func isValidPrefix(_ prefix: String) -> Bool { prefix.wholeMatch(of: /[A-Z0-9]{1,12}/) != nil }

    public init(sequence: Int, prefix: String = InvoiceNumber.defaultPrefix) throws(BillingRuleError) {
        guard sequence >= 1 else {
            throw BillingRuleError(.invalidInvoiceNumber, "invoice sequence must start at 1, got \(sequence)")
        }
        guard Self.isValidPrefix(prefix) else {
            throw BillingRuleError(
                .invalidInvoiceNumber, "an invoice prefix is 1 to 12 capital letters or digits, got '\(prefix)'",
                field: "invoice_prefix")
        }
        self.sequence = sequence
        self.prefix = prefix
    }

    /// Parses the canonical form only: the prefix, `-` and six or more digits, no padding beyond six.
    public init?(_ text: String) {
        guard let match = text.wholeMatch(of: /([A-Z0-9]{1,12})-([0-9]{6,18})/) else { return nil }
        let digits = match.2
        guard digits.count == 6 || digits.first != "0", let sequence = Int(digits),
            let number = try? InvoiceNumber(sequence: sequence, prefix: String(match.1))
        else { return nil }
        self = number
    }

    public var description: String { DocumentNumber.format(prefix, sequence) }

    public static func < (a: InvoiceNumber, b: InvoiceNumber) -> Bool { (a.prefix, a.sequence) < (b.prefix, b.sequence) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let number = InvoiceNumber(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not an invoice number like INV-000123"))
        }
        self = number
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
