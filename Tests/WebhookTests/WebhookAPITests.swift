import Foundation
import HTTPTypes
import HummingbirdTesting
import MessageBus
import Mongo
import NIOCore
import TestSupport
import Testing

@testable import WebhookService

/// The endpoints API, the Events API, redelivery and the claim, through the gateway.
@Suite("Webhook endpoints and events API", .serialized)
struct WebhookAPITests {
    @Test func badEndpointInputIsA4xxNamingTheField() async throws {
        try await withWebhooks(dispatchers: 0) { h, client in
            let admin = try await h.auth()
            for (body, param) in [
                (#"{"url":"http://example.com/hook","events":["*"]}"#, "url"),
                (#"{"url":"https://user:pw@example.com/hook","events":["*"]}"#, "url"),
                (#"{"url":"https://example.com/hook","events":["Invoice Paid"]}"#, "events"),
            ] {
                let (status, problem) = try await client.post("/v1/webhook-endpoints", body, headers: admin)
                #expect(status == .unprocessableContent, "\(body) answered \(status)")
                #expect(problem["param"] as? String == param)
            }
            // The schema check at the edge: events missing or empty.
            let (missing, problem) = try await client.post("/v1/webhook-endpoints", #"{"url":"https://example.com/h"}"#, headers: admin)
            #expect(missing.code / 100 == 4 && "\(problem)".contains("events"))
            // A customer may not manage endpoints.
            let (forbidden, _) = try await client.get("/v1/webhook-endpoints", headers: try await h.auth(customer: "cus_a"))
            #expect(forbidden == .forbidden)
        }
    }

    @Test func outsideDevelopmentModeOnlyPublicHTTPSDestinationsAreAccepted() throws {
        let production = EndpointURLPolicy(development: false)
        #expect(throws: Problem.self) { try production.validate("http://example.com/hook") }
        for url in [
            "https://127.0.0.1/hook", "https://10.1.2.3/", "https://192.168.0.1/", "https://169.254.169.254/latest",
            "https://[::1]/", "https://[fe80::1]/", "https://[fd00::1]/", "https://[::ffff:10.0.0.1]/", "https://localhost/",
            "https://100.64.0.1/", "https://intranet/",
        ] {
            #expect(throws: Problem.self, "\(url)") { try production.validate(url) }
        }
        #expect(try production.validate("https://hooks.example.com/in").host == "hooks.example.com")
        #expect(try production.validate("https://93.184.216.34/in").host == "93.184.216.34")
        let development = EndpointURLPolicy(development: true)
        #expect(try development.validate("http://127.0.0.1:8080/hook").port == 8080)
        #expect(try development.validate("http://localhost:9/hook").host == "localhost")
        #expect(throws: Problem.self) { try development.validate("http://example.com/hook") }
        // Development mode screens every other destination as production does: only loopback is let through.
        for url in ["https://169.254.169.254/latest", "https://10.1.2.3/", "https://intranet/", "https://[fd00::1]/", "https://db.internal/"] {
            #expect(throws: Problem.self, "\(url)") { try development.validate(url) }
        }
        #expect(try development.validate("https://hooks.example.com/in").host == "hooks.example.com")
    }

    @Test func deliveriesAreScreenedAtSendTimeInEveryModeButLoopbackInDevelopment() async throws {
        let development = EndpointURLPolicy(development: true)
        #expect(try await development.screenedAddress(host: "127.0.0.1", port: 80) == nil)
        await #expect(throws: EndpointURLPolicy.DestinationRefused.self) {
            _ = try await development.screenedAddress(host: "169.254.169.254", port: 80)
        }
        let production = EndpointURLPolicy(development: false)
        await #expect(throws: EndpointURLPolicy.DestinationRefused.self) {
            _ = try await production.screenedAddress(host: "127.0.0.1", port: 80)
        }
    }

    @Test func endpointsCanBeListedFetchedDisabledEnabledAndDeleted() async throws {
        let receiver = try await Receiver()
        try await withWebhooks { h, client in
            let admin = try await h.auth()
            let (a, _) = try await client.createEndpoint(receiver.url, events: ["invoice.paid"], headers: admin)
            let (b, _) = try await client.createEndpoint(receiver.url, events: ["customer.created"], headers: admin)
            let (_, list) = try await client.get("/v1/webhook-endpoints?limit=1", headers: admin)
            #expect((list["data"] as? [[String: Any]])?.map { $0["id"] as? String } == [b])
            #expect(list["has_more"] as? Bool == true)
            let (_, rest) = try await client.get("/v1/webhook-endpoints?limit=1&starting_after=\(b)", headers: admin)
            #expect((rest["data"] as? [[String: Any]])?.map { $0["id"] as? String } == [a])
            // Another tenant sees none of them.
            let other = try await h.auth(tenant: "other")
            let (notFound, _) = try await client.get("/v1/webhook-endpoints/\(a)", headers: other)
            #expect(notFound == .notFound)
            // Disabled: events pass it by.
            let (_, disabled) = try await client.post("/v1/webhook-endpoints/\(a)/disable", headers: admin)
            #expect(disabled["status"] as? String == "disabled")
            try await h.publish("invoice.paid", ["id": "in_skip"])
            try await Task.sleep(for: .milliseconds(800))
            #expect(receiver.of(type: "invoice.paid").isEmpty)
            _ = try await client.post("/v1/webhook-endpoints/\(a)/enable", headers: admin)
            try await h.publish("invoice.paid", ["id": "in_take"])
            #expect(await h.eventually { receiver.of(type: "invoice.paid").count == 1 })
            let deleted = try await client.execute(uri: "/v1/webhook-endpoints/\(b)", method: .delete, headers: admin) { $0.status }
            #expect(deleted == .noContent)
            let (gone, _) = try await client.get("/v1/webhook-endpoints/\(b)", headers: admin)
            #expect(gone == .notFound)
        }
        await receiver.stop()
    }

    /// 16 endpoints per tenant by default (as Stripe); one more is a 409 naming the limit, another
    /// tenant is not affected, and deleting one makes room.
    @Test func aTenantHasAtMostSixteenEndpointsByDefault() async throws {
        try await withWebhooks(dispatchers: 0) { h, client in
            let admin = try await h.auth()
            var ids: [String] = []
            for i in 0..<16 {
                let (id, _) = try await client.createEndpoint("http://127.0.0.1:9/hook/\(i)", events: ["*"], headers: admin)
                ids.append(id)
            }
            // Disabled endpoints count: enabling one again must not pass the limit.
            let (disabled, _) = try await client.post("/v1/webhook-endpoints/\(ids[0])/disable", headers: admin)
            #expect(disabled == .ok)
            let (status, problem) = try await client.post(
                "/v1/webhook-endpoints", #"{"url":"http://127.0.0.1:9/hook/17","events":["*"]}"#, headers: admin)
            #expect(status == .conflict, "\(problem)")
            #expect(problem["code"] as? String == "endpoint_limit_reached")
            #expect((problem["detail"] as? String)?.contains("at most 16 webhook endpoints") == true, "\(problem)")
            let (other, _) = try await client.post(
                "/v1/webhook-endpoints", #"{"url":"http://127.0.0.1:9/hook/o","events":["*"]}"#, headers: try await h.auth(tenant: "other"))
            #expect(other == .created, "another tenant has its own 16")
            let deleted = try await client.execute(uri: "/v1/webhook-endpoints/\(ids[1])", method: .delete, headers: admin) { $0.status }
            #expect(deleted == .noContent)
            let (again, _) = try await client.post(
                "/v1/webhook-endpoints", #"{"url":"http://127.0.0.1:9/hook/17","events":["*"]}"#, headers: admin)
            #expect(again == .created)
        }
    }

    @Test func oneEventCanBeRedeliveredToOneEndpointAndIsLoggedAsItsOwnDelivery() async throws {
        let receiver = try await Receiver()
        try await withWebhooks { h, client in
            let admin = try await h.auth()
            let (id, secret) = try await client.createEndpoint(receiver.url, events: ["invoice.paid"], headers: admin)
            let paid = try await h.publish("invoice.paid", ["id": "in_r"])
            #expect(await h.eventually { receiver.all.count == 1 })
            let (status, delivery) = try await client.post(
                "/v1/webhook-endpoints/\(id)/redeliver", #"{"event_id":"evt_\#(paid.id)"}"#, headers: admin)
            #expect(status == .created && delivery["manual"] as? Bool == true)
            #expect(await h.eventually { receiver.all.count == 2 })
            #expect(receiver.all.allSatisfy { $0.id == "evt_\(paid.id)" && Receiver.verify($0, secret: secret) })
            let (_, log) = try await client.get("/v1/webhook-endpoints/\(id)/deliveries?event_id=evt_\(paid.id)", headers: admin)
            #expect((log["data"] as? [[String: Any]])?.count == 2)
            let (unknown, problem) = try await client.post(
                "/v1/webhook-endpoints/\(id)/redeliver", #"{"event_id":"evt_nope"}"#, headers: admin)
            #expect(unknown == .notFound && problem["param"] as? String == "event_id")
        }
        await receiver.stop()
    }

    @Test func theEventsAPIFiltersPaginatesNewestFirstAndScopesCustomersToThemselves() async throws {
        try await withWebhooks(dispatchers: 0) { h, client in
            let admin = try await h.auth()
            let start = Date()
            var ids: [String] = []
            for (type, customer) in [
                ("customer.created", "cus_a"), ("invoice.paid", "cus_a"), ("invoice.paid", "cus_b"), ("invoice.voided", "cus_a"),
            ] {
                let payload = type.hasPrefix("customer.") ? ["id": customer] : ["id": "in_x", "customer_id": customer]
                ids.append("evt_" + (try await h.publish(type, payload)).id)
                try await Task.sleep(for: .milliseconds(5))
            }
            try await h.publish("invoice.paid", ["customer_id": "cus_a"], tenant: "other")
            #expect(try await h.eventually { try await h.documents(WebhookCollections.events).count == 5 })
            let (_, all) = try await client.get("/v1/events", headers: admin)
            #expect((all["data"] as? [[String: Any]])?.map { $0["id"] as? String } == ids.reversed())
            let (_, page) = try await client.get("/v1/events?limit=2&starting_after=\(ids[3])", headers: admin)
            #expect((page["data"] as? [[String: Any]])?.map { $0["id"] as? String } == [ids[2], ids[1]])
            #expect(page["has_more"] as? Bool == true)
            let (_, paid) = try await client.get("/v1/events?type=invoice.paid", headers: admin)
            #expect((paid["data"] as? [[String: Any]])?.count == 2)
            let from = MessageCoding.formatTimestamp(start.addingTimeInterval(-60))
            let (rangedStatus, ranged) = try await client.get("/v1/events?created[gte]=\(from)&limit=100", headers: admin)
            #expect(rangedStatus == .ok, "\(ranged)")
            #expect((ranged["data"] as? [[String: Any]])?.count == 4)
            let (_, none) = try await client.get("/v1/events?created%5Blte%5D=\(from)", headers: admin)
            #expect(none["data"] != nil, "\(none)")
            #expect((none["data"] as? [[String: Any]])?.isEmpty == true)
            let (bad, problem) = try await client.get("/v1/events?limit=500", headers: admin)
            #expect(bad.code / 100 == 4 && problem["param"] as? String == "limit")
            // A customer sees only the events about itself.
            let customer = try await h.auth(customer: "cus_a")
            let (_, own) = try await client.get("/v1/events", headers: customer)
            #expect((own["data"] as? [[String: Any]])?.map { $0["id"] as? String } == [ids[3], ids[1], ids[0]])
            let (hidden, _) = try await client.get("/v1/events/\(ids[2])", headers: customer)
            #expect(hidden == .notFound)
        }
    }

    @Test func twoDispatchersNeverSendTheSameAttemptTwice() async throws {
        let receiver = try await Receiver(delay: .milliseconds(50))
        try await withWebhooks(dispatchers: 3) { h, client in
            let admin = try await h.auth()
            _ = try await client.createEndpoint(receiver.url, events: ["invoice.paid"], headers: admin)
            for i in 0..<40 { try await h.publish("invoice.paid", ["id": "in_\(i)"]) }
            #expect(await h.eventually { Set(receiver.all.map(\.id)).count == 40 })
            try await Task.sleep(for: .milliseconds(500))
            #expect(receiver.all.count == 40, "three dispatchers, one attempt per delivery")
        }
        await receiver.stop()
    }

    @Test func retryScheduleBacksOffWithJitterInsideItsWindow() {
        let schedule = RetrySchedule(initialDelay: .seconds(30), maxDelay: .seconds(6 * 3600), jitter: 0.2, window: .seconds(3 * 86_400))
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(schedule.nextAttempt(after: 1, firstAttempt: start, now: start, random: 0) == start.addingTimeInterval(30))
        #expect(schedule.nextAttempt(after: 3, firstAttempt: start, now: start, random: 0) == start.addingTimeInterval(120))
        #expect(schedule.nextAttempt(after: 3, firstAttempt: start, now: start, random: 1) == start.addingTimeInterval(144))
        #expect(schedule.nextAttempt(after: 20, firstAttempt: start, now: start, random: 0) == start.addingTimeInterval(6 * 3600))
        // Near the window's end: one last try at the end, then nothing.
        let late = start.addingTimeInterval(3 * 86_400 - 10)
        #expect(schedule.nextAttempt(after: 20, firstAttempt: start, now: late, random: 0) == start.addingTimeInterval(3 * 86_400))
        #expect(schedule.nextAttempt(after: 21, firstAttempt: start, now: start.addingTimeInterval(3 * 86_400), random: 0) == nil)
    }
}
