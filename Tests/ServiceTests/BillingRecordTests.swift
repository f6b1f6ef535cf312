import Foundation
import Mongo
import Testing

@testable import BillingService

/// Stored billing documents decode exactly or not at all.
@Suite struct BillingRecordTests {
    @Test func aStoredCurrencyWeDoNotBillInIsAnErrorNamingTheFieldNotASilentUSD() throws {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        var invoice: BSONDocument = [
            "_id": "in_1", "tenant_id": "t1", "customer_id": "cus_1", "customer_name": "A", "customer_email": "a@example.com",
            "status": "open", "billing_reason": "manual", "currency": "JPY", "lines": .array([]), "subtotal": .decimal128(0),
            "total": .decimal128(0), "credit_applied": .decimal128(0), "amount_due": .decimal128(0), "amount_paid": .decimal128(0),
            "attempt_count": .int(0), "created_at": .datetime(now), "updated_at": .datetime(now), "version": .int(1),
        ]
        let decoded = try BSONDecoder().decode(InvoiceDocument.self, from: invoice)
        #expect(decoded.currency.code == "JPY" && decoded.currency.exponent == 0)
        invoice["currency"] = "ZZZ"
        #expect {
            _ = try BSONDecoder().decode(InvoiceDocument.self, from: invoice)
        } throws: { error in
            (error as? DecodingError)?.bsonFieldPath == "currency" && "\(error)".contains("unknown ISO 4217 currency 'ZZZ'")
        }
    }
}
