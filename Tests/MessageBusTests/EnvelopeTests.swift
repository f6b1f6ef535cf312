import Foundation
import Testing

@testable import MessageBus

@Suite("Envelope and message coding")
struct EnvelopeTests {
    let principal = Principal(subject: "usr_1", role: .customer, scopes: ["customers:read"], tenant: "default", customerID: "cus_1")

    @Test func roundTripsWithSnakeCaseKeysAndMillisecondTimes() throws {
        let created = Date(timeIntervalSince1970: 1_790_000_000.123)
        let envelope = Envelope(
            type: "customer.create", correlationID: "req_1", replyTo: "billing:reply:gw-1", principal: principal,
            idempotencyKey: "key-1", deadline: created.addingTimeInterval(5),
            payload: .object(["name": .string("Ada"), "price": .number("19.99")]), createdAt: created)
        let data = try MessageCoding.encode(envelope)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"correlation_id\":\"req_1\""))
        #expect(text.contains("\"reply_to\":\"billing:reply:gw-1\""))
        #expect(text.contains("\"customer_id\":\"cus_1\""))
        #expect(text.contains("\"created_at\":\"2026-09-21T"))
        #expect(text.contains(".123Z\""))
        let decoded = try MessageCoding.decode(Envelope.self, from: data)
        #expect(decoded == envelope)
    }

    @Test func moneyInPayloadsStaysExact() throws {
        let json = #"{"amount": 0.1, "big": 12345678901234567890.123456789}"#
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
        #expect(value["amount"] == .number("0.1"))
        #expect(value["big"] == .number("12345678901234567890.123456789"))
    }

    @Test func malformedEnvelopesNameTheMissingField() {
        let json = #"{"id":"x","type":"t","correlation_id":"c","reply_to":"","payload":{},"created_at":"2026-01-01T00:00:00.000Z"}"#
        let error = #expect(throws: (any Error).self) { try MessageCoding.decode(Envelope.self, from: json) }
        #expect(MessageCoding.describe(error!).contains("principal"))
    }

    @Test func messageIDsAreTimeOrderedUUIDv7() throws {
        let early = Date(timeIntervalSince1970: 1_700_000_000)
        let a = MessageID.make(at: early)
        let b = MessageID.make(at: early.addingTimeInterval(0.002))
        #expect(a < b)
        #expect(a.count == 36 && Array(a)[14] == "7")
        let stamp = try #require(MessageID.timestamp(of: a))
        #expect(abs(stamp.timeIntervalSince(early)) < 0.001)
        #expect(Set((0..<1000).map { _ in MessageID.make(at: early) }).count == 1000)
        // Within one millisecond, the fraction of it orders them too (RFC 9562 method 3).
        let sameMillisecond = [0.0001, 0.0004, 0.0009].map { MessageID.make(at: early.addingTimeInterval($0)) }
        #expect(sameMillisecond == sameMillisecond.sorted() && Set(sameMillisecond).count == 3)
        #expect(sameMillisecond.allSatisfy { MessageID.timestamp(of: $0) == MessageID.timestamp(of: a) })
    }

    @Test func timestampsMatchFoundationsISO8601AndRoundTripToTheMillisecond() throws {
        var generator = SystemRandomNumberGenerator()
        // Random instants from 1900 to 2200 (leap years, century rules, before 1970), and edges.
        var instants: [Double] = [0, -0.001, 951_782_400, 951_868_799.999, 4_102_444_800, -2_208_988_800, 1_767_225_599.9995]
        for _ in 0..<2000 { instants.append(Double(Int64.random(in: -2_208_988_800_000...7_258_118_400_000, using: &generator)) / 1000) }
        for seconds in instants {
            let date = Date(timeIntervalSince1970: seconds)
            let text = MessageCoding.formatTimestamp(date)
            let ms = (seconds * 1000).rounded()
            let whole = Date(timeIntervalSince1970: ((ms / 1000).rounded(.down)))
            let reference = whole.formatted(Date.ISO8601FormatStyle())
            #expect(text.hasPrefix(String(reference.dropLast())), "\(seconds): \(text) vs \(reference)")
            let parsed = try #require(MessageCoding.parseTimestamp(text))
            #expect((parsed.timeIntervalSince1970 * 1000).rounded() == ms, "\(text)")
        }
        #expect(MessageCoding.formatTimestamp(Date(timeIntervalSince1970: 1_769_860_800.123)) == "2026-01-31T12:00:00.123Z")
        // Other RFC 3339 forms still parse; impossible dates do not.
        #expect(MessageCoding.parseTimestamp("2026-01-31T12:00:00Z") == Date(timeIntervalSince1970: 1_769_860_800))
        #expect(MessageCoding.parseTimestamp("2026-01-31T13:00:00.5+01:00") == Date(timeIntervalSince1970: 1_769_860_800.5))
        #expect(MessageCoding.parseTimestamp("2026-02-30T00:00:00.000Z") == nil)
        #expect(MessageCoding.parseTimestamp("2026-13-01T00:00:00.000Z") == nil)
        #expect(MessageCoding.parseTimestamp("2026-01-01T24:00:00.000Z") == nil)
    }

    /// Encodes through `JSONEncoder` (the generic path), whatever overloads exist for `T`.
    func viaFoundation<T: Encodable>(_ value: T) throws -> Data { try MessageCoding.encode(value) }

    @Test func theHandWrittenWriterReadsBackLikeJSONEncoder() throws {
        let tricky = "quote \" backslash \\ slash / newline \n tab \t nul \u{0} bell \u{7} unicode é 漢 🎉"
        let payload: JSONValue = .object([
            "s": .string(tricky), "n": .number("-12.50"), "e": .number("1e3"), "z": .number("0"), "big": .number("12345678901234567890.123456789"),
            "t": .bool(true), "f": .bool(false), "nil": .null, "a": .array([.number("1"), .string("x"), .object([:]), .array([])]),
            tricky: .object(["deep": .object(["deeper": .string("\u{1F}")])]),
        ])
        let principal = Principal(subject: "usr\"1", role: .customer, scopes: ["a:b", "c"], tenant: "t/1", customerID: "cus_1")
        let full = Envelope(
            type: "test.echo", correlationID: "c-1", causationID: "cause", replyTo: "billing:reply:x", principal: principal,
            idempotencyKey: "key-1", deadline: Date(timeIntervalSince1970: 1_769_860_800.5), traceparent: "00-ab-cd-01",
            payload: payload, createdAt: Date(timeIntervalSince1970: 1_769_860_800.123))
        let bare = Envelope(type: "t", principal: Principal(subject: "s", role: .admin, tenant: "d"), payload: .null, createdAt: Date(timeIntervalSince1970: 0))
        for envelope in [full, bare] {
            let fast = try MessageCoding.encode(envelope)
            let decoded = try MessageCoding.decode(Envelope.self, from: fast)
            #expect(decoded == (try MessageCoding.decode(Envelope.self, from: try viaFoundation(envelope))))
            #expect(decoded.id == envelope.id && decoded.principal == envelope.principal && decoded.deadline == envelope.deadline)
            #expect(try JSONSerialization.jsonObject(with: fast) is [String: Any], "valid JSON for Foundation's parser too")
        }
        let replies = [
            Reply.success(to: full, status: 201, result: payload, at: Date(timeIntervalSince1970: 1_700_000_000.001)),
            Reply.failure(to: full, .invalid("name", "bad \"name\""), at: Date(timeIntervalSince1970: 1_700_000_000)),
            Reply.success(to: bare, result: .null, at: Date(timeIntervalSince1970: 1)),
        ]
        for reply in replies {
            let decoded = try MessageCoding.decode(Reply.self, from: try MessageCoding.encode(reply))
            #expect(decoded == (try MessageCoding.decode(Reply.self, from: try viaFoundation(reply))))
            let record = OperationRecord(reply: reply, subject: "s", tenant: "t")
            #expect(
                try MessageCoding.decode(OperationRecord.self, from: try MessageCoding.encode(record))
                    == MessageCoding.decode(OperationRecord.self, from: try viaFoundation(record)))
        }
        #expect(String(decoding: JSONWriter.data(.object(["b": .number("1"), "a": .string("\u{1}")])), as: UTF8.self) == #"{"a":"\u0001","b":1}"#)
        for good in ["0", "-0", "1.5", "10e-3", "-2E+7"] { #expect(JSONWriter.isJSONNumber(good), "\(good)") }
        for bad in ["", "-", "01", "1.", ".5", "1e", "NaN", "0x10", "1 "] { #expect(!JSONWriter.isJSONNumber(bad), "\(bad)") }
        #expect(String(decoding: JSONWriter.data(.number("01.50")), as: UTF8.self) == "1.5")
    }

    @Test func theHandWrittenReaderAgreesWithJSONDecoder() throws {
        let texts = [
            // What the writer produces, and what other producers might: spacing, escapes, exotic numbers.
            String(decoding: try MessageCoding.encode(Envelope(
                type: "t", correlationID: "c", replyTo: "r", principal: principal, idempotencyKey: "k",
                deadline: Date(timeIntervalSince1970: 5), payload: .object(["a": .array([.number("1.50"), .null])]),
                createdAt: Date(timeIntervalSince1970: 1))), as: UTF8.self),
            String(decoding: try MessageCoding.encode(Envelope(
                type: "t", principal: principal, payload: .null, createdAt: Date(timeIntervalSince1970: 1),
                respondAsync: true)), as: UTF8.self),
            #"{ "id" : "i", "type":"t","correlation_id":"c","reply_to":"","created_at":"2026-01-01T00:00:00Z","#
                + #""principal":{"subject":"s","role":"admin","scopes":[],"tenant":"d","customer_id":null},"#
                + #""payload":{"n":[0,-0,10,-7,1e2,1.5E-3,12345678901234567890123,0.1000],"s":"\u00e9\ud83c\udf89\n\/\"","b":[true,false],"o":{}},"#
                + #""deadline":null,"unknown":{"ignored":[1,2,{"x":null}]}}"#,
            // Raw (unescaped) UTF-8 in keys' values: read with validation.
            String(decoding: try MessageCoding.encode(Envelope(
                type: "t", principal: Principal(subject: "usr_é", role: .admin, scopes: ["a", "b"], tenant: "ténant"),
                payload: .object(["name": .string("Café ✓ 🎉")]), createdAt: Date(timeIntervalSince1970: 1))), as: UTF8.self),
        ]
        for text in texts {
            let generic = try? MessageCoding.decode(Envelope.self, generic: Data(text.utf8))
            let fastValue = JSONReader.envelope(Array(text.utf8))
            #expect(generic != nil && fastValue == generic, "\(text)")
        }
        // `respond_async` is written only when set, and read back either way.
        #expect(texts[1].contains(#""respond_async":true"#) && !texts[0].contains("respond_async"))
        #expect(try MessageCoding.decode(Envelope.self, from: texts[1]).respondAsync == true)
        #expect(try MessageCoding.decode(Envelope.self, from: texts[0]).respondAsync == nil)
        #expect(JSONReader.envelope(Array(texts[1].replacingOccurrences(of: "true", with: #""yes""#).utf8)) == nil)
        // Anything unusual: the reader gives up and JSONDecoder answers (with its error).
        let refused = [
            #"{"a":1,}"#, #"[1 2]"#, #"{"a":"\ud800"}"#, "{\"a\":\"tab\u{9}here\"}", #"{"a":01}"#, #"{"a":1e999999}"#,
            String(repeating: "[", count: 100) + String(repeating: "]", count: 100), #"{"a":tru}"#, "", #""x" y"#,
        ]
        for text in refused { #expect(JSONReader.value(Array(text.utf8)) == nil, "\(text)") }
        // Invalid UTF-8 inside a string: refused, never read as replacement characters.
        #expect(JSONReader.value([UInt8(ascii: "\""), 0x61, 0xC3, 0x28, UInt8(ascii: "\"")]) == nil)
        #expect(JSONReader.value(Array(#" {"a" : [1, "x", null, true]} "#.utf8))
            == .object(["a": .array([.number("1"), .string("x"), .null, .bool(true)])]))
        let missing = #"{"id":"x","type":"t","correlation_id":"c","reply_to":"","payload":{},"created_at":"2026-01-01T00:00:00.000Z"}"#
        let error = #expect(throws: (any Error).self) { try MessageCoding.decode(Envelope.self, from: missing) }
        #expect(MessageCoding.describe(error!).contains("principal"))
        // Replies, with and without errors and results.
        let envelope = Envelope(type: "t", principal: principal, payload: .null, createdAt: Date(timeIntervalSince1970: 1))
        var replies: [String] = []
        for reply in [
            Reply.success(to: envelope, status: 201, result: .object(["k": .number("2.5")]), at: Date(timeIntervalSince1970: 2)),
            Reply.success(to: envelope, result: .null, at: Date(timeIntervalSince1970: 2)),
            Reply.failure(to: envelope, .invalid("f", "bad"), at: Date(timeIntervalSince1970: 3)),
        ] {
            let data = try MessageCoding.encode(reply)
            let fast = JSONReader.reply(data)
            let generic = try MessageCoding.decode(Reply.self, generic: data)
            #expect(fast != nil && fast == generic)
            replies.append(String(decoding: data, as: UTF8.self))
        }
        // A reply-stream entry with several replies holds them as one JSON array (see ReplyPublisher).
        let array = "[" + replies.joined(separator: ",") + "]"
        let generic = try MessageCoding.decode([Reply].self, generic: Data(array.utf8))
        #expect(generic.count == 3 && JSONReader.replies(array.utf8) == generic)
        #expect(try MessageCoding.decode([Reply].self, from: array) == generic)
        #expect(JSONReader.replies("[]".utf8) == [] && JSONReader.replies("[1]".utf8) == nil)
    }

    @Test func hexAndIDFormatting() {
        #expect(Hex.encode([0x00, 0x0f, 0xa5, 0xff]) == "000fa5ff")
        #expect(Hex.decode("000fA5ff") == [0x00, 0x0f, 0xa5, 0xff])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        // A consumer named host-pid-n belongs to process host-pid (host names may have dashes).
        #expect(StreamNames.process(ofConsumer: "web-1-4242-0") == "web-1-4242")
        #expect(MessageID.format(Array(0..<16)) == "00010203-0405-0607-0809-0a0b0c0d0e0f")
        #expect(MessageID.timestamp(of: "00010203-0405-8607-0809-0a0b0c0d0e0f") == nil)  // not version 7
        #expect(MessageID.timestamp(of: "not-an-id") == nil)
    }

    @Test func retentionTrimsByAge() {
        let now = Date(timeIntervalSince1970: 1_000_000)
        #expect(StreamID(before: now, keeping: .seconds(1000)).description == "999000000-0")
        #expect(StreamID(before: now, keeping: .seconds(10_000_000)).description == "0-0")
    }
}
