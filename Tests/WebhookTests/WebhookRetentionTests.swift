import Foundation
import HTTPTypes
import HummingbirdTesting
import MessageBus
import Mongo
import Runtime
import Testing
import TestSupport

@testable import WebhookService

/// What the events store keeps, and for how long: a retention (30 days by default), and nothing of
/// an erased customer.
@Suite("Events retention and erasure", .serialized)
struct WebhookRetentionTests {
    static let day: TimeInterval = 86_400

    func storedIDs(_ h: WebhookHarness) async throws -> Set<String> {
        Set(try await h.documents(WebhookCollections.events).compactMap { $0["_id"]?.stringValue })
    }

    func listed(_ client: some TestClientProtocol, _ headers: HTTPFields) async throws -> [String] {
        let (_, list) = try await client.get("/v1/events?limit=100", headers: headers)
        return (list["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
    }

    /// A retention of 20 days on the billing clock: events older are deleted, younger ones stay,
    /// and the Events API no longer finds them; when the clock moves on, the next ones follow.
    @Test func eventsOlderThanTheRetentionAreDeletedAndNoLongerListed() async throws {
        try await withWebhooks(dispatchers: 0, configure: { $0.eventRetention = .seconds(20 * 86_400) }) { h, client in
            let admin = try await h.auth()
            let now = Date()
            var ids: [Int: String] = [:]
            for age in [40, 25, 10, 1] {
                let event = try await h.publish(
                    "invoice.paid", ["id": "in_\(age)"], createdAt: now.addingTimeInterval(-Double(age) * Self.day))
                ids[age] = "evt_\(event.id)"
            }
            #expect(try await h.eventually { try await storedIDs(h).count == 4 })
            #expect(try await listed(client, admin).count == 4)

            let clock = ManualBillingClock(now)
            h.startRetention(clock: clock)
            // 40 and 25 days old: past 20 days (the default 30 would have kept the second).
            #expect(try await h.eventually { try await storedIDs(h) == [ids[10]!, ids[1]!] })
            #expect(try await listed(client, admin) == [ids[1]!, ids[10]!])
            let (gone, _) = try await client.get("/v1/events/\(ids[40]!)", headers: admin)
            #expect(gone == .notFound)

            // Fifteen days later the 10-day-old event is 25 days old.
            clock.advance(by: 15 * Self.day)
            #expect(try await h.eventually { try await storedIDs(h) == [ids[1]!] })
            #expect(try await listed(client, admin) == [ids[1]!])
        }
    }

    /// An erased customer (`customer.deleted`, as the customer worker raises it) leaves nothing in
    /// the events store: the events about it and about its login go, their pending deliveries are
    /// canceled and the responses logged for them cleared; the erasure notice itself (IDs only) is
    /// stored and delivered, and another customer's events stay.
    @Test func erasureDeletesTheCustomersEventsAndCancelsTheirDeliveries() async throws {
        // Answers 500: the deliveries stay pending, waiting for a retry.
        let failing = try await Receiver { _ in 500 }
        let audit = try await Receiver()
        try await withWebhooks(configure: {
            $0.retry = RetrySchedule(initialDelay: .seconds(600), maxDelay: .seconds(600), window: .seconds(3_600))
        }) { h, client in
            let admin = try await h.auth()
            let (failingID, _) = try await client.createEndpoint(failing.url, events: ["invoice.paid", "user.registered"], headers: admin)
            _ = try await client.createEndpoint(audit.url, events: ["customer.deleted"], headers: admin)
            let customer = "cus_0190e0f5a1b27c3d8e9f0a1b2c3d4e5f"
            let user = "usr_0190e0f5a1b27c3d8e9f0a1b2c3d4e60"
            let email = "zebulon.quixote@example.com"
            let name = "Zebulon Quixote"
            let ip = "203.0.113.77"
            let digest = "5d41402abc4b2a76b9719d911017c592aa1b2c3d4e5f60718293a4b5c6d7e8f9"
            var erased: [String] = []
            for (type, payload) in [
                ("user.registered", ["user_id": user, "customer_id": customer, "email": email, "verification_expires_at": "2030-01-01T00:00:00Z"]),
                ("customer.created", ["id": customer, "tenant_id": "default", "status": "active", "user_id": user]),
                ("invoice.paid", ["id": "in_z1", "customer_id": customer, "amount_paid": "19.99"]),
                ("user.login_failed", ["user_id": user, "email_sha256": digest, "ip": ip, "locked_seconds": "0"]),
            ] {
                erased.append("evt_" + (try await h.publish(type, payload)).id)
            }
            // Raised by the customer itself: the event names it as the one who acted.
            erased.append("evt_" + (try await h.publish("operation.completed", ["id": "op_z1", "status": "succeeded"], customer: customer)).id)
            let kept = "evt_" + (try await h.publish("invoice.paid", ["id": "in_o1", "customer_id": "cus_other"])).id
            #expect(try await h.eventually { try await storedIDs(h).isSuperset(of: erased + [kept]) })
            // The failing endpoint's three deliveries were tried once and wait for a retry.
            #expect(try await h.eventually {
                try await h.documents(WebhookCollections.deliveries, ["endpoint_id": .string(failingID), "attempt_count": 1]).count == 3
            })

            let deletion = try await h.publish("customer.deleted", ["id": customer, "tenant_id": "default", "user_id": user])
            let notice = "evt_\(deletion.id)"
            #expect(try await h.eventually { try await storedIDs(h).contains(notice) })

            // The store: nothing about the customer but the notice, and no personal data at all.
            let stored = try await h.documents(WebhookCollections.events)
            let remaining = Set(stored.compactMap { $0["_id"]?.stringValue })
            #expect(remaining.isDisjoint(with: erased))
            for document in stored where document["_id"]?.stringValue != notice {
                let text = "\(document)"
                for value in [customer, user] { #expect(!text.contains(value), "\(document["_id"] ?? "?") names \(value)") }
            }
            for value in [email, name, ip, digest] {
                #expect(!"\(stored)".lowercased().contains(value.lowercased()), "the events still hold \(value)")
            }
            #expect(stored.contains { $0["_id"]?.stringValue == kept }, "another customer's event stays")
            // The Events API no longer finds them, for the tenant or the customer.
            let list = try await listed(client, admin)
            #expect(list.contains(notice) && list.contains(kept) && Set(list).isDisjoint(with: erased))
            for id in erased {
                let (status, _) = try await client.get("/v1/events/\(id)", headers: admin)
                #expect(status == .notFound)
            }
            #expect(try await listed(client, try await h.auth(customer: customer)) == [notice])
            // Their deliveries are canceled, never sent again, and keep no response text.
            let deliveries = try await h.documents(WebhookCollections.deliveries, ["endpoint_id": .string(failingID)])
            let ofErased = deliveries.filter { erased.contains($0["event_id"]?.stringValue ?? "") }
            #expect(ofErased.count == 2 && ofErased.allSatisfy { $0["status"]?.stringValue == "canceled" }, "\(ofErased)")
            #expect(ofErased.allSatisfy { delivery in
                (delivery["attempts"]?.arrayValue ?? []).allSatisfy { $0.documentValue?["response"] == .null }
            })
            #expect(deliveries.contains { $0["event_id"]?.stringValue == kept && $0["status"]?.stringValue == "pending" })
            // The notice reaches the endpoints subscribed to it.
            #expect(await h.eventually { audit.all.contains { $0.id == notice } })
        }
        await failing.stop()
        await audit.stop()
    }

    /// `BILLING_WEBHOOK_MAX_ENDPOINTS_PER_TENANT` and `BILLING_EVENTS_RETENTION_DAYS` reach the worker
    /// process: `billing worker webhook` refuses the third endpoint of two, and its first retention
    /// pass deletes an event stored three days ago while one of a day stays.
    @Test func theWorkerTakesTheEndpointLimitAndTheRetentionFromItsEnvironment() async throws {
        let h = try await WebhookHarness(dispatchers: 0, eventConsumer: false)
        do {
            try await h.stopCommandConsumers()
            let events = h.database.collection(WebhookCollections.events, as: EventRecord.self)
            for (id, age) in [("evt_three_days", 3.0), ("evt_one_day", 1.0)] {
                _ = try await events.insertOne(
                    EventRecord(
                        id: id, tenantID: "default", type: "invoice.paid", customerID: nil, body: #"{"id":"\#(id)"}"#,
                        createdAt: Date().addingTimeInterval(-age * Self.day)))
            }
            _ = try await h.startWorkerProcess(environment: [
                "BILLING_WEBHOOK_MAX_ENDPOINTS_PER_TENANT": "2", "BILLING_EVENTS_RETENTION_DAYS": "2",
            ])
            #expect(try await h.eventually { try await storedIDs(h) == ["evt_one_day"] })
            let admin = try await h.auth()
            try await h.application().test(.router) { client in
                for i in 0..<2 { _ = try await client.createEndpoint("http://127.0.0.1:9/hook/\(i)", events: ["*"], headers: admin) }
                let (status, problem) = try await client.post(
                    "/v1/webhook-endpoints", #"{"url":"http://127.0.0.1:9/hook/3","events":["*"]}"#, headers: admin)
                #expect(status == .conflict && problem["code"] as? String == "endpoint_limit_reached", "\(problem)")
                #expect((problem["detail"] as? String)?.contains("at most 2 webhook endpoints") == true)
            }
        } catch {
            await h.shutdown()
            throw error
        }
        await h.shutdown()
    }

    @Test func theLimitsAreSettingsWithCarefulDefaults() async throws {
        let defaults = try await BillingSettings.load(environment: [:])
        #expect(defaults.webhookMaxEndpointsPerTenant == 16 && defaults.eventsRetentionDays == 30)
        let set = try await BillingSettings.load(environment: [
            "BILLING_WEBHOOK_MAX_ENDPOINTS_PER_TENANT": "40", "BILLING_EVENTS_RETENTION_DAYS": "90",
        ])
        #expect(set.webhookMaxEndpointsPerTenant == 40 && set.eventsRetentionDays == 90)
        for (variable, value) in [
            ("BILLING_WEBHOOK_MAX_ENDPOINTS_PER_TENANT", "0"), ("BILLING_EVENTS_RETENTION_DAYS", "0"),
            ("BILLING_EVENTS_RETENTION_DAYS", "thirty"),
        ] {
            do {
                _ = try await BillingSettings.load(environment: [variable: value])
                Issue.record("\(variable)=\(value) was accepted")
            } catch let invalid as BillingSettings.Invalid {
                #expect(invalid.variable == variable)
            }
        }
    }
}
