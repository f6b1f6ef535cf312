/// An invoice's number, `INV-000123`: a per-tenant sequence given when the invoice is finalised,
/// zero-padded to six digits and growing past them (`INV-1234567`).
public struct InvoiceNumber: Sendable, Hashable, Comparable, Codable, LosslessStringConvertible {
    public let sequence: Int

    public init(sequence: Int) throws(BillingRuleError) {
        guard sequence >= 1 else {
            throw BillingRuleError(.invalidInvoiceNumber, "invoice sequence must start at 1, got \(sequence)")
        }
        self.sequence = sequence
    }

    /// Parses the canonical form only: `INV-` and six or more digits, no padding beyond six.
    public init?(_ text: String) {
        guard let match = text.wholeMatch(of: /INV-([0-9]{6,18})/) else { return nil }
        let digits = match.1
        guard digits.count == 6 || digits.first != "0", let sequence = Int(digits),
            let number = try? InvoiceNumber(sequence: sequence)
        else { return nil }
        self = number
    }

    public var description: String { DocumentNumber.format("INV", sequence) }

    public static func < (a: InvoiceNumber, b: InvoiceNumber) -> Bool { a.sequence < b.sequence }

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
