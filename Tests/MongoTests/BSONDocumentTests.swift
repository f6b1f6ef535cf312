import Foundation
import Mongo
import Testing

@Suite("BSONDocument and BSONValue")
struct BSONDocumentTests {
    @Test("literals build filters that read like MongoDB's")
    func literals() {
        let filter: BSONDocument = ["status": "active", "age": ["$gt": 3], "score": 1.5, "ok": true, "gone": nil,
                                    "in": ["a", "b"]]
        #expect(filter["status"] == .string("active"))
        #expect(filter["age"] == .document(["$gt": .int32(3)]))
        #expect(filter["score"] == .double(1.5))
        #expect(filter["ok"] == .bool(true))
        #expect(filter["gone"] == .null)
        #expect(filter["in"] == .array([.string("a"), .string("b")]))
        #expect(filter.keys == ["status", "age", "score", "ok", "gone", "in"])
    }

    @Test("subscript set replaces in place, nil removes, new keys append")
    func subscripts() {
        var document: BSONDocument = ["a": 1, "b": 2]
        document["a"] = 10
        document["c"] = 3
        document["b"] = nil
        #expect(document.keys == ["a", "c"])
        #expect(document["a"] == 10)
        #expect(document == ["a": 10, "c": 3])
        #expect(document != ["c": 3, "a": 10], "order matters for equality")
        #expect(Array(document.map(\.key)) == ["a", "c"])
    }

    @Test("large integer literals become int64")
    func integerWidth() {
        let document: BSONDocument = ["small": 5, "large": 5_000_000_000]
        #expect(document["small"] == .int32(5))
        #expect(document["large"] == .int64(5_000_000_000))
        #expect(document["large"]?.intValue == 5_000_000_000)
    }

    @Test("ObjectId hex round-trips and new ids are unique and ordered by time")
    func objectID() throws {
        let id = BSONObjectID()
        #expect(BSONObjectID(hex: id.hex) == id)
        #expect(BSONObjectID(hex: "zz") == nil)
        let ids = (0..<1000).map { _ in BSONObjectID() }
        #expect(Set(ids).count == 1000)
        let document: BSONDocument = ["_id": .objectID(id)]
        #expect(try BSONDocument(bsonData: document.toBSONData()) == document)
    }

    @Test("the binary form matches the BSON spec byte for byte")
    func specBytes() throws {
        // {"hello": "world"} from bsonspec.org
        let expected: [UInt8] = [
            0x16, 0, 0, 0, 0x02, 0x68, 0x65, 0x6C, 0x6C, 0x6F, 0x00, 0x06, 0, 0, 0, 0x77, 0x6F, 0x72, 0x6C, 0x64, 0x00,
            0x00,
        ]
        #expect(Array(try (["hello": "world"] as BSONDocument).toBSONData()) == expected)
        #expect(try BSONDocument(bsonData: Data(expected)) == ["hello": "world"])
    }

    @Test("decimal128 written by other drivers in exponent form reads back exactly")
    func decimalExponentForms() throws {
        // 1.0E+3 as decimal128: coefficient 10, exponent +2 (bytes from the BSON corpus).
        func document(low: UInt64, high: UInt64) -> Data {
            var bytes: [UInt8] = [0, 0, 0, 0, 0x13, 0x64, 0x00]  // length placeholder, type 0x13, key "d"
            withUnsafeBytes(of: low.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: high.littleEndian) { bytes += $0 }
            bytes.append(0)
            let length = UInt32(bytes.count).littleEndian
            withUnsafeBytes(of: length) { for i in 0..<4 { bytes[i] = $0[i] } }
            return Data(bytes)
        }
        let biasedExponent: (Int) -> UInt64 = { UInt64($0 + 6176) << 49 }
        let thousand = try BSONDocument(bsonData: document(low: 10, high: biasedExponent(2)))
        #expect(thousand["d"] == .decimal128(1000))
        let small = try BSONDocument(bsonData: document(low: 1999, high: biasedExponent(-2)))
        #expect(small["d"] == .decimal128(Decimal(string: "19.99")!))
        let negativeZero = try BSONDocument(bsonData: document(low: 0, high: (1 << 63) | biasedExponent(0)))
        #expect(negativeZero["d"] == .decimal128(0))
        let tiny = try BSONDocument(bsonData: document(low: 5, high: biasedExponent(-10)))
        #expect(tiny["d"] == .decimal128(Decimal(string: "0.0000000005")!))
    }

    @Test("IndexModel names itself the way MongoDB does")
    func indexNames() {
        #expect(IndexModel(keys: ["tenant_id": 1, "email": 1]).name == "tenant_id_1_email_1")
        #expect(IndexModel(keys: ["created_at": -1]).name == "created_at_-1")
        #expect(IndexModel(keys: ["x": 1], name: "custom").name == "custom")
    }

    @Test("MongoError describes itself with its code, server code and index")
    func errorDescription() {
        let error = MongoError(.duplicateKey, "E11000 duplicate key", serverCode: 11000, indexName: "email_1")
        #expect(error.description.contains("duplicateKey"))
        #expect(error.description.contains("11000"))
        #expect(error.description.contains("email_1"))
        #expect(error.code == .duplicateKey)
        #expect(error.code != .network)
    }

    @Test("a bad URL is refused with a message that says what is wrong")
    func badURL() throws {
        do {
            _ = try MongoClient(url: "http://not-mongo", logger: .init(label: "test"))
            Issue.record("a bad URL was accepted")
        } catch let error as MongoError {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("invalid MongoDB URL"))
            #expect(error.message.count > "invalid MongoDB URL: ".count)
        }
    }
}

@Suite("Extended JSON")
struct ExtendedJSONTests {
    @Test("a collection definition in JSON parses with libbson, Extended JSON types included")
    func parse() throws {
        let json = """
            { "collection": "plans", "validator": { "$jsonSchema": { "bsonType": "object",
              "required": ["price"], "properties": { "price": { "bsonType": "decimal" } } } },
              "indexes": [ { "keys": { "tenant_id": 1, "name": 1 }, "unique": true, "expireAfterSeconds": 3600 } ],
              "price": { "$numberDecimal": "19.99" }, "ratio": 0.5, "big": 5000000000 }
            """
        let document = try BSONDocument(json: json)
        #expect(document["collection"] == "plans")
        #expect(document.value(atPath: "validator.$jsonSchema.required") == ["price"])
        #expect(document.value(atPath: "indexes.0.keys") == ["tenant_id": 1, "name": 1])
        #expect(document.value(atPath: "indexes.0.expireAfterSeconds") == .int32(3600))
        #expect(document["price"] == .decimal128(Decimal(string: "19.99")!))
        #expect(document["ratio"] == .double(0.5))
        #expect(document["big"] == .int64(5_000_000_000))
    }

    @Test("invalid JSON is refused with libbson's reason")
    func invalid() {
        do {
            _ = try BSONDocument(json: "{ \"a\": ")
            Issue.record("invalid JSON was accepted")
        } catch let error as MongoError {
            #expect(error.code == .invalidArgument)
            #expect(error.message.hasPrefix("invalid JSON:"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("relaxed Extended JSON output reads back to the same document")
    func output() throws {
        let document: BSONDocument = [
            "amount": .decimal128(Decimal(string: "0.001")!), "at": .datetime(Date(timeIntervalSince1970: 1_700_000_000.123)),
            "n": 3, "tags": ["a"],
        ]
        let json = try document.extendedJSON()
        #expect(json.contains("$numberDecimal"))
        #expect(try BSONDocument(json: json) == document)
    }
}
