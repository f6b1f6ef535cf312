import BillingDomain
import Foundation
import Testing

@Suite("Invoice numbers")
struct InvoiceNumberTests {
    @Test(arguments: [(1, "INV-000001"), (123, "INV-000123"), (999_999, "INV-999999"), (1_000_000, "INV-1000000")])
    func formatsAndParsesBack(sequence: Int, text: String) throws {
        let number = try InvoiceNumber(sequence: sequence)
        #expect(number.description == text)
        #expect(InvoiceNumber(text)?.sequence == sequence)
    }

    @Test(arguments: ["INV-123", "INV-0000123", "INV-000000", "inv-000123", "INV-00012a", " INV-000123", "INV--00123", ""])
    func refusesWhatIsNotCanonical(text: String) {
        #expect(InvoiceNumber(text) == nil)
    }

    @Test(arguments: [("ACME", 7, "ACME-000007"), ("A1", 1_234_567, "A1-1234567")])
    func aTenantsPrefixLeadsItsNumbers(prefix: String, sequence: Int, text: String) throws {
        let number = try InvoiceNumber(sequence: sequence, prefix: prefix)
        #expect(number.description == text)
        #expect(InvoiceNumber(text) == number)
    }

    @Test(arguments: ["", "acme", "TOO-LONG", "ABCDEFGHIJKLM"])
    func aPrefixIsCapitalsAndDigits(prefix: String) {
        #expect(throws: BillingRuleError.self) { try InvoiceNumber(sequence: 1, prefix: prefix) }
    }

    @Test(arguments: [0, -5])
    func sequenceStartsAtOne(sequence: Int) {
        #expect {
            try InvoiceNumber(sequence: sequence)
        } throws: { error in
            (error as? BillingRuleError)?.code == .invalidInvoiceNumber
        }
    }

    @Test func encodesAsItsString() throws {
        let number = try InvoiceNumber(sequence: 42)
        let json = try JSONEncoder().encode([number])
        #expect(String(decoding: json, as: UTF8.self) == #"["INV-000042"]"#)
        #expect(try JSONDecoder().decode([InvoiceNumber].self, from: json) == [number])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([InvoiceNumber].self, from: Data(#"["42"]"#.utf8)) }
        #expect(try InvoiceNumber(sequence: 9) < InvoiceNumber(sequence: 10))
    }
}
