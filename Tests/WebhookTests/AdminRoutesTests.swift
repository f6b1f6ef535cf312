import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MessageBus
import WorkerRuntime
import Redis
import TestSupport
import Testing
import WebhookService

/// `GET /v1/admin/streams`, `GET /v1/admin/dead-letters`, `POST /v1/admin/dead-letters/{id}/retry`,
/// served by the webhook worker over the real streams.
@Suite("Admin routes over the streams")
struct AdminRoutesTests {
    /// A dead letter as the runtime writes one, with an envelope naming `tenant` (or unreadable text).
    func deadLetter(
        _ h: WebhookHarness, service: String, tenant: String?, type: String = "customer.create", id: String = "*"
    ) async throws -> String {
        let envelope: String
        if let tenant {
            envelope = String(
                decoding: try MessageCoding.encode(
                    Envelope(
                        type: type, principal: Principal(subject: "usr_1", role: .admin, tenant: tenant),
                        payload: .object(["body": .object(["password": .string("do-not-show-me")])]), createdAt: Date())),
                as: UTF8.self)
        } else {
            envelope = "not json at all"
        }
        return try await h.redis.send(
            XADD(
                h.names.deadLetters(service), id: id,
                fields: [
                    ("original_id", "1-1"), ("envelope", RedisArgument(envelope)), ("error", "handler kept failing"),
                    ("deliveries", "5"), ("dead_lettered_at", RedisArgument(MessageCoding.formatTimestamp(Date()))),
                ])) ?? ""
    }

    static func luhn(_ digits: String) -> Bool {
        let values = digits.compactMap(\.wholeNumberValue).reversed()
        let sum = values.enumerated().reduce(0) { total, item in
            let doubled = item.offset % 2 == 1 ? item.element * 2 : item.element
            return total + (doubled > 9 ? doubled - 9 : doubled)
        }
        return sum % 10 == 0
    }

    @Test func adminsSeeStreamsAndTheirTenantsDeadLettersAndRetryThem() async throws {
        try await withWebhooks { h, client in
            let admin = try await h.auth()
            // An entry ID whose digits, dash included, pass the Luhn check: its API ID must not look
            // like a card number to the gateway.
            let luhnMS = (UInt64(1_700_000_000_000)...).first { Self.luhn("\($0)0") }!
            let ours = try await deadLetter(h, service: "customer", tenant: "default", id: "\(luhnMS)-0")
            let theirs = try await deadLetter(h, service: "customer", tenant: "other")
            let unreadable = try await deadLetter(h, service: "plan", tenant: nil)

            let (streamsStatus, streams) = try await client.get("/v1/admin/streams", headers: admin)
            #expect(streamsStatus == .ok)
            let rows = try #require(streams["data"] as? [[String: Any]])
            let customerRow = try #require(rows.first { $0["stream"] as? String == h.names.commands("customer") })
            #expect(customerRow["dead_letters"] as? Int == 2)
            #expect(rows.contains { $0["stream"] as? String == h.names.events })
            // The webhook worker's own group is there, with its consumer.
            let webhookRow = try #require(rows.first { $0["stream"] as? String == h.names.commands("webhook") })
            let groups = try #require(webhookRow["groups"] as? [[String: Any]])
            #expect(groups.contains { ($0["consumers"] as? [[String: Any]])?.isEmpty == false })

            let (listStatus, list) = try await client.get("/v1/admin/dead-letters", headers: admin)
            #expect(listStatus == .ok)
            let letters = try #require(list["data"] as? [[String: Any]])
            let ids = Set(letters.compactMap { $0["id"] as? String })
            #expect(
                ids == [
                    StreamAdminHandlers.publicID(service: "customer", entry: ours),
                    StreamAdminHandlers.publicID(service: "plan", entry: unreadable),
                ])
            let first = try #require(letters.first { $0["id"] as? String == StreamAdminHandlers.publicID(service: "customer", entry: ours) })
            #expect(first["type"] as? String == "customer.create" && first["deliveries"] as? Int == 5)
            #expect(first["error"] as? String == "handler kept failing" && first["envelope"] == nil)
            #expect(!String(decoding: try JSONSerialization.data(withJSONObject: list), as: UTF8.self).contains("do-not-show-me"))

            // Another tenant's admin sees only its own (and not the unreadable one).
            let other = try await h.auth(tenant: "other")
            let (_, theirList) = try await client.get("/v1/admin/dead-letters", headers: other)
            #expect(
                (theirList["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
                    == [StreamAdminHandlers.publicID(service: "customer", entry: theirs)])

            // Retry: back on the command stream, gone from the dead letters.
            let (retried, answer) = try await client.post(
                "/v1/admin/dead-letters/\(StreamAdminHandlers.publicID(service: "customer", entry: ours))/retry", headers: admin)
            #expect(retried == .ok && answer["retried"] as? Bool == true)
            let back = try await h.redis.send(XRANGE(h.names.commands("customer")))
            #expect(back.contains { $0.fields["retry_of"] == ours })
            #expect(try await h.redis.send(XLEN(h.names.deadLetters("customer"))) == 1)
            // Again, another tenant's, a malformed ID and an unknown service: 404, nothing moved.
            let theirID = StreamAdminHandlers.publicID(service: "customer", entry: theirs)
            for id in [
                StreamAdminHandlers.publicID(service: "customer", entry: ours), theirID, "customer:not-an-id", "customer:12_x",
                "nowhere" + theirID.dropFirst("customer".count), "x",
            ] {
                let (status, problem) = try await client.post("/v1/admin/dead-letters/\(id)/retry", headers: admin)
                #expect(status == .notFound, "\(id)")
                #expect(problem["code"] as? String == "not_found", "\(id)")
            }
            #expect(try await h.redis.send(XLEN(h.names.deadLetters("customer"))) == 1)

            // Customers may not call them.
            let customer = try await h.auth(customer: "cus_1")
            let (forbidden, _) = try await client.get("/v1/admin/streams", headers: customer)
            #expect(forbidden == .forbidden)
        }
    }
}

@Suite("Webhook worker schemas")
struct WebhookCommandSchemaTests {
    @Test func everyCommandTypeOfTheWebhookWorkerHasASchema() throws {
        let service = WebhookService(
            configuration: WebhookConfiguration(
                names: StreamNames(), secretSealingKey: WebhookConfiguration.developmentSealingKey, development: true))
        let folder = WebhookHarness.root.appendingPathComponent("schemas/commands")
        for type in service.registry().types {
            let data = try Data(contentsOf: folder.appendingPathComponent("\(type).json"))
            let schema = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(type)")
            #expect(schema["title"] as? String == type)
            // Commands from the API carry path, query and body; the dispatcher's internal one its own fields.
            let expected = type == "webhook_endpoint.disable_failing" ? ["endpoint_id", "window_started_at"] : ["body", "path", "query"]
            #expect((schema["properties"] as? [String: Any])?.keys.sorted() == expected, "\(type)")
        }
    }
}
