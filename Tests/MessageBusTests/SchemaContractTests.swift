import Foundation
import Testing

@testable import MessageBus

/// The JSON Schemas in schemas/ are the contract: what we encode must match them.
@Suite("Envelope and reply schemas")
struct SchemaContractTests {
    static let schemas = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("schemas")

    func schema(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Self.schemas.appendingPathComponent(name))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func keys(of value: some Encodable) throws -> Set<String> {
        let data = try MessageCoding.encode(value)
        return Set(try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]).keys)
    }

    @Test func anEncodedEnvelopeHasExactlyTheSchemasFields() throws {
        let schema = try schema("envelope.schema.json")
        let required = Set(try #require(schema["required"] as? [String]))
        let properties = Set(try #require(schema["properties"] as? [String: Any]).keys)
        let full = Envelope(
            type: "customer.create", causationID: "c", replyTo: "r",
            principal: Principal(subject: "s", role: .customer, tenant: "t", customerID: "cus_1"), idempotencyKey: "k",
            deadline: Date(), traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            payload: .object([:]), createdAt: Date(), respondAsync: true)
        let minimal = Envelope(
            type: "invoice.paid", principal: Principal(subject: "s", role: .system, tenant: "t"), payload: .null,
            createdAt: Date())
        #expect(try keys(of: full) == properties)
        #expect(try required.isSubset(of: keys(of: minimal)))
        #expect(try keys(of: minimal).isSubset(of: properties))
    }

    @Test func anEncodedReplyHasTheSchemasFields() throws {
        let schema = try schema("reply.schema.json")
        let properties = Set(try #require(schema["properties"] as? [String: Any]).keys)
        let required = Set(try #require(schema["required"] as? [String]))
        let envelope = Envelope(type: "t.x", principal: Principal(subject: "s", role: .admin, tenant: "t"), payload: .null, createdAt: Date())
        let failed = Reply.failure(to: envelope, .invalid("name", "too long"), at: Date())
        #expect(try keys(of: failed).isSubset(of: properties))
        #expect(try required.isSubset(of: keys(of: failed)))
    }
}
