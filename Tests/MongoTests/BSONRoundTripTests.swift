import FieldNames
import Foundation
@testable import Mongo
import Testing

/// Fields named the way collections store them (snake_case through CodingKeys).
struct InvoiceLine: Codable, Equatable, Sendable {
    var description: String
    var quantity: Int
    var unitAmount: Decimal
    var amount: Decimal

    enum CodingKeys: String, CodingKey {
        case description, quantity
        case unitAmount = "unit_amount"
        case amount
    }
}

struct Invoice: Codable, Equatable, Sendable {
    var id: String
    var tenantID: String
    var number: Int64
    var paid: Bool
    var total: Decimal
    var currency: String
    var issuedAt: Date
    var dueAt: Date?
    var lines: [InvoiceLine]
    var tags: [String]
    var metadata: [String: String]
    var note: String?
    var attemptCount: Int
    var ratio: Double

    enum CodingKeys: String, CodingKey {
        case id = "_id"
        case tenantID = "tenant_id"
        case number, paid, total, currency
        case issuedAt = "issued_at"
        case dueAt = "due_at"
        case lines, tags, metadata, note
        case attemptCount = "attempt_count"
        case ratio
    }
}

/// Codable → BSONDocument → libbson bytes → BSONDocument → Codable.
func roundTrip<T: Codable>(_ value: T) throws -> (document: BSONDocument, decoded: T) {
    let document = try BSONEncoder().encode(value)
    let bytes = try document.toBSONData()
    let reread = try BSONDocument(bsonData: bytes)
    #expect(reread == document, "the libbson round trip changed the document")
    return (reread, try BSONDecoder().decode(T.self, from: reread))
}

func date(milliseconds: Int64) -> Date {
    Date(timeIntervalSince1970: Double(milliseconds) / 1000)
}

func sampleInvoice() -> Invoice {
    Invoice(
        id: "in_01J9ZQ", tenantID: "ten_1", number: 9_000_000_000, paid: false, total: Decimal(string: "59.97")!,
        currency: "USD", issuedAt: date(milliseconds: 1_764_072_000_123), dueAt: date(milliseconds: 1_766_664_000_999),
        lines: [
            InvoiceLine(
                description: "Pro plan", quantity: 3, unitAmount: Decimal(string: "19.99")!,
                amount: Decimal(string: "59.97")!)
        ],
        tags: ["a", "b"], metadata: ["source": "import", "région": "eu-west", "empty": ""], note: nil,
        attemptCount: 2, ratio: 0.25)
}

@Suite("BSON round trips")
struct BSONRoundTripTests {
    @Test("every supported type survives Codable → BSON bytes → Codable")
    func fullInvoice() throws {
        let invoice = sampleInvoice()
        let (document, decoded) = try roundTrip(invoice)
        #expect(decoded == invoice)
        #expect(document["_id"] == .string("in_01J9ZQ"))
        #expect(document["tenant_id"] == .string("ten_1"))
        #expect(document["number"] == .int64(9_000_000_000))
        #expect(document["paid"] == .bool(false))
        #expect(document["attempt_count"] == .int32(2), "Int that fits is stored as int32")
        #expect(document["ratio"] == .double(0.25))
        #expect(document["total"] == .decimal128(Decimal(string: "59.97")!))
        #expect(document["issued_at"] == .datetime(date(milliseconds: 1_764_072_000_123)))
        #expect(document["note"] == nil, "nil optionals are omitted, not null")
        #expect(document["tags"] == ["a", "b"])
        #expect(document.value(atPath: "lines.0.unit_amount") == .decimal128(Decimal(string: "19.99")!))
        #expect(document["metadata"] == ["empty": "", "région": "eu-west", "source": "import"])
    }

    @Test("key order follows the CodingKeys and is kept by libbson")
    func keyOrder() throws {
        let (document, _) = try roundTrip(sampleInvoice())
        #expect(Array(document.keys.prefix(4)) == ["_id", "tenant_id", "number", "paid"])
        #expect(document["metadata"]?.documentValue?.keys == ["empty", "région", "source"], "dictionary keys sorted")
    }

    @Test(
        "Decimal128 keeps every digit",
        arguments: [
            "19.99", "0.001", "-12345678901234567890.123456", "100", "0", "1", "-1", "0.1", "0.30",
            "1234567890123456789012345678901234", "9999999999999999999999999999999999",
            "0.0000000000000000000000000000000001", "-0.000001", "1000000", "12.5", "3.14159265358979323846264338327950",
            "79228162514264337593543950335",
        ])
    func decimal128Exactness(_ text: String) throws {
        struct Money: Codable, Equatable { var amount: Decimal }
        let value = try #require(Decimal(string: text))
        let (document, decoded) = try roundTrip(Money(amount: value))
        #expect(document["amount"] == .decimal128(value))
        #expect(decoded.amount == value)
        #expect(decoded.amount.description == value.description)
    }

    @Test("Decimal goes through decimal128, never Double")
    func decimalNotDouble() throws {
        struct Money: Codable { var amount: Decimal }
        let value = Decimal(string: "0.1")! + Decimal(string: "0.2")!
        let (_, decoded) = try roundTrip(Money(amount: value))
        #expect(decoded.amount == Decimal(string: "0.3")!)
        #expect(decoded.amount.description == "0.3")
    }

    @Test("a Decimal with more than 34 significant digits is rejected, not rounded")
    func decimalTooPrecise() throws {
        let value = try #require(Decimal(string: "1234567890123456789012345678901234.5"))
        let document: BSONDocument = ["amount": .decimal128(value)]
        #expect(throws: MongoError.self) { try document.toBSONData() }
    }

    @Test(
        "dates keep milliseconds",
        arguments: [Int64(0), 1, 999, 1_764_072_000_123, -1, -86_400_001, 253_402_300_799_999, 1_700_000_000_001])
    func dateMilliseconds(_ milliseconds: Int64) throws {
        struct Stamp: Codable, Equatable { var at: Date }
        let stamp = Stamp(at: date(milliseconds: milliseconds))
        let (document, decoded) = try roundTrip(stamp)
        #expect(decoded == stamp)
        let stored = try #require(document["at"]?.dateValue)
        #expect(Int64((stored.timeIntervalSince1970 * 1000).rounded()) == milliseconds)
    }

    @Test("sub-millisecond parts round to the nearest millisecond")
    func dateRounding() throws {
        struct Stamp: Codable { var at: Date }
        let (_, decoded) = try roundTrip(Stamp(at: Date(timeIntervalSince1970: 1_700_000_000.1236)))
        #expect(decoded.at == date(milliseconds: 1_700_000_000_124))
    }

    @Test("optionals: nil is omitted, present is written, null and missing both decode as nil")
    func optionals() throws {
        struct Maybe: Codable, Equatable {
            var name: String?
            var count: Int?
            var when: Date?
            var amount: Decimal?
        }
        let empty = try roundTrip(Maybe())
        #expect(empty.document.isEmpty)
        #expect(empty.decoded == Maybe())

        let full = Maybe(name: "x", count: 0, when: date(milliseconds: 5), amount: 0)
        #expect(try roundTrip(full).decoded == full)

        let nulls: BSONDocument = ["name": nil, "count": nil, "when": nil, "amount": nil]
        #expect(try BSONDecoder().decode(Maybe.self, from: nulls) == Maybe())
    }

    @Test("nested structs, arrays of structs, arrays of arrays, nested optionals")
    func nested() throws {
        struct Address: Codable, Equatable {
            var line1: String
            var postalCode: String?
        }
        struct Customer: Codable, Equatable {
            var addresses: [Address]
            var primary: Address?
            var matrix: [[Int]]
            var flags: [Bool]
            var byCurrency: [String: Decimal]
            var optionalTags: [String?]
        }
        let customer = Customer(
            addresses: [Address(line1: "1 Main St", postalCode: nil), Address(line1: "2 Side", postalCode: "75001")],
            primary: Address(line1: "1 Main St", postalCode: "10001"), matrix: [[1, 2], [], [3]], flags: [true, false],
            byCurrency: ["USD": Decimal(string: "10.50")!, "JPY": 100], optionalTags: ["a", nil])
        let (document, decoded) = try roundTrip(customer)
        #expect(decoded == customer)
        #expect(document.value(atPath: "addresses.1.postal_code") == "75001")
        #expect(document.value(atPath: "addresses.0.postal_code") == nil)
        #expect(document["optional_tags"] == ["a", nil])
        #expect(document.value(atPath: "by_currency.JPY") == .decimal128(100))
    }

    @Test("field names: camelCase properties are snake_case fields, a top-level id is _id, dictionary keys are kept")
    func fieldNames() throws {
        struct Line: Codable, Equatable {
            var id: String
            var unitAmount: Decimal
        }
        struct Record: Codable, Equatable {
            var id: String
            var tenantID: String
            var createdAt: Date
            var httpStatus: Int
            var lines: [Line]
            var metadata: [String: String]
            var line2: String
        }
        let record = Record(
            id: "in_1", tenantID: "t1", createdAt: date(milliseconds: 7), httpStatus: 201,
            lines: [Line(id: "il_1", unitAmount: 5)], metadata: ["orderID": "A-1", "snake_key": "x"], line2: "b")
        let (document, decoded) = try roundTrip(record)
        #expect(decoded == record)
        #expect(document.keys == ["_id", "tenant_id", "created_at", "http_status", "lines", "metadata", "line2"])
        #expect(document.value(atPath: "lines.0.id") == "il_1")  // only the document's own id is _id
        #expect(document.value(atPath: "lines.0.unit_amount") == .decimal128(5))
        #expect(document.value(atPath: "metadata.orderID") == "A-1")  // data, not a name
        #expect(FieldNames.snakeCase("HTTPStatus") == "http_status")
        #expect(FieldNames.snakeCase("accessTokenID") == "access_token_id")
        #expect(FieldNames.snakeCase("already_snake") == "already_snake")
        // A decoding error names the stored field.
        var broken = try BSONEncoder().encode(record)
        broken["tenant_id"] = .int(3)
        #expect {
            _ = try BSONDecoder().decode(Record.self, from: broken)
        } throws: { ($0 as? DecodingError)?.bsonFieldPath == "tenant_id" }
    }

    @Test("[String: String] metadata is a subdocument")
    func metadata() throws {
        struct Tagged: Codable, Equatable { var metadata: [String: String] }
        let value = Tagged(metadata: ["plan": "pro", "seats": "5", "note": "with \"quotes\" and ünïcode ✓"])
        let (document, decoded) = try roundTrip(value)
        #expect(decoded == value)
        guard case .document(let sub) = document["metadata"] else {
            Issue.record("metadata is not a subdocument: \(String(describing: document["metadata"]))")
            return
        }
        #expect(sub["plan"] == "pro")
        #expect(try roundTrip(Tagged(metadata: [:])).decoded == Tagged(metadata: [:]))
    }

    @Test("a wide metadata map round-trips")
    func wideMetadata() throws {
        struct Tagged: Codable, Equatable { var metadata: [String: String] }
        let value = Tagged(metadata: Dictionary(uniqueKeysWithValues: (0..<5000).map { ("key\($0)", "value \($0)") }))
        let (document, decoded) = try roundTrip(value)
        #expect(decoded == value)
        #expect(document["metadata"]?.documentValue?.count == 5000)
    }

    @Test("native BSON types as properties: ObjectId, binary, timestamp, regex, raw documents and values")
    func nativeTypes() throws {
        struct Native: Codable, Equatable {
            var id: BSONObjectID
            var blob: Data
            var binary: BSONBinary
            var ts: BSONTimestamp
            var pattern: BSONRegularExpression
            var extra: BSONDocument
            var anything: BSONValue
            var url: URL
            var uuid: UUID
            var small: Int8
            var unsigned: UInt32
            var float: Float
        }
        let value = Native(
            id: BSONObjectID(), blob: Data([0, 1, 2, 255]), binary: BSONBinary(data: Data([9, 9]), subtype: 4),
            ts: BSONTimestamp(seconds: 1_700_000_000, increment: 7), pattern: BSONRegularExpression(pattern: "^a.*z$", options: "i"),
            extra: ["k": ["nested": [1, 2.5, "three", nil, true]], "min": .minKey, "max": .maxKey],
            anything: .int64(-5), url: URL(string: "https://example.com/hook?x=1")!, uuid: UUID(), small: -8,
            unsigned: 4_000_000_000, float: 1.5)
        let (document, decoded) = try roundTrip(value)
        #expect(decoded == value)
        #expect(document["blob"] == .binary(BSONBinary(data: Data([0, 1, 2, 255]))))
        #expect(document["unsigned"] == .int64(4_000_000_000))
    }

    @Test("strings with NUL bytes and non-ASCII text survive libbson")
    func strings() throws {
        struct Text: Codable, Equatable { var s: String }
        for s in ["", "a\u{0}b", "日本語", "emoji 👩‍💻", String(repeating: "x", count: 100_000)] {
            #expect(try roundTrip(Text(s: s)).decoded == Text(s: s))
        }
    }
}

@Suite("BSON decoding errors")
struct BSONDecodingErrorTests {
    @Test("a wrong type names the field path")
    func typeMismatchPath() throws {
        var document = try BSONEncoder().encode(sampleInvoice())
        var lines = try #require(document["lines"]?.arrayValue)
        var line = try #require(lines[0].documentValue)
        line["amount"] = "59.97"  // a string where a decimal belongs
        lines[0] = .document(line)
        document["lines"] = .array(lines)
        do {
            _ = try BSONDecoder().decode(Invoice.self, from: document)
            Issue.record("decoding should have failed")
        } catch let error as DecodingError {
            #expect(error.bsonFieldPath == "lines.0.amount")
            #expect(error.bsonReason == "expected a decimal, found string")
        }
    }

    @Test("a missing required field names it")
    func missingField() throws {
        var document = try BSONEncoder().encode(sampleInvoice())
        document["tenant_id"] = nil
        do {
            _ = try BSONDecoder().decode(Invoice.self, from: document)
            Issue.record("decoding should have failed")
        } catch let error as DecodingError {
            #expect(error.bsonFieldPath == "tenant_id")
            guard case .keyNotFound = error else {
                Issue.record("expected keyNotFound, got \(error)")
                return
            }
        }
    }

    @Test("null for a required field is valueNotFound at that field")
    func nullRequired() throws {
        var document = try BSONEncoder().encode(sampleInvoice())
        document["issued_at"] = nil
        document["issued_at"] = .null
        do {
            _ = try BSONDecoder().decode(Invoice.self, from: document)
            Issue.record("decoding should have failed")
        } catch let error as DecodingError {
            #expect(error.bsonFieldPath == "issued_at")
        }
    }

    @Test("an integer that does not fit fails instead of truncating")
    func integerOverflow() throws {
        struct Small: Codable { var n: Int32 }
        #expect(throws: DecodingError.self) { try BSONDecoder().decode(Small.self, from: ["n": .int64(1 << 40)]) }
        #expect(throws: DecodingError.self) { try BSONDecoder().decode(Small.self, from: ["n": .double(1.5)]) }
        #expect(try BSONDecoder().decode(Small.self, from: ["n": .double(7)]).n == 7)
    }

    @Test("a top-level value that is not a document cannot be encoded as one")
    func topLevelNotDocument() {
        #expect(throws: EncodingError.self) { try BSONEncoder().encode([1, 2, 3]) }
        #expect((try? BSONEncoder().encodeValue([1, 2, 3])) == [1, 2, 3])
    }

    @Test("corrupt bytes are rejected by libbson, not read past their end")
    func corruptBytes() throws {
        let good = try (["a": "hello", "b": 1] as BSONDocument).toBSONData()
        #expect(throws: MongoError.self) { try BSONDocument(bsonData: good.dropLast()) }
        var badLength = good
        badLength[0] = 0xFF
        #expect(throws: MongoError.self) { try BSONDocument(bsonData: badLength) }
        #expect(throws: MongoError.self) { try BSONDocument(bsonData: Data()) }
    }
}
