import Foundation
import HTTPTypes
import HummingbirdTesting
import MessageBus
import Mongo
import Runtime
import Testing
import TestSupport

@testable import WebhookService

/// What the events store keeps, and for how long: a retention (30 days by default).
@Suite("Events retention", .serialized)
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
