import Foundation
import Testing

@testable import Messaging

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
        let error = #expect(throws: DecodingError.self) { try MessageCoding.decode(Envelope.self, from: json) }
        #expect(ConsumerGroupRunner.describe(error!).contains("principal"))
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
    }

    @Test func retentionTrimsByAge() {
        let now = Date(timeIntervalSince1970: 1_000_000)
        #expect(CommandBus.minID(before: now, keeping: .seconds(1000)) == "999000000-0")
        #expect(CommandBus.minID(before: now, keeping: .seconds(10_000_000)) == "0-0")
    }
}
