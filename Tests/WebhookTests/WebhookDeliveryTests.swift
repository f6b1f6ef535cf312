import Foundation
import HTTPTypes
import HummingbirdTesting
import MessageBus
import Mongo
import Redis
import Testing
import TestSupport
import WebhookService

/// Deliveries to a real HTTP receiver on loopback, through the real gateway, worker and servers.
@Suite("Webhook deliveries", .serialized)
struct WebhookDeliveryTests {
    @Test func eventsArriveSignedAndComplete() async throws {
        let receiver = try await Receiver()
        try await withWebhooks { h, client in
            let admin = try await h.auth()
            let (id, secret) = try await client.createEndpoint(receiver.url, events: ["*"], headers: admin)
            #expect(secret.hasPrefix("whsec_"))
            let paid = try await h.publish("invoice.paid", ["id": "in_1", "customer_id": "cus_1", "amount_paid": "19.99"])
            #expect(await h.eventually { !receiver.of(type: "invoice.paid").isEmpty })
            let got = try #require(receiver.of(type: "invoice.paid").first)
            #expect(got.id == "evt_\(paid.id)", "webhook-id is the event's id, the same on every attempt")
            #expect(Receiver.verify(got, secret: secret), "the signature checks out with the secret shown at creation")
            #expect(!Receiver.verify(got, secret: "whsec_" + Data(repeating: 1, count: 32).base64EncodedString()))
            #expect(abs(Double(got.timestamp).map { $0 - Date().timeIntervalSince1970 } ?? 999) < 60)
            let json = got.json
            #expect(json["object"] as? String == "event")
            #expect((json["data"] as? [String: Any])?["amount_paid"] as? String == "19.99", "money stays a decimal string")
            // The Events API serves the same event, byte for byte what was signed.
            let (status, event) = try await client.get("/v1/events/evt_\(paid.id)", headers: admin)
            #expect(status == .ok)
            #expect(NSDictionary(dictionary: event).isEqual(to: json))
            // The endpoint's own creation event arrived too (it subscribes to everything).
            #expect(await h.eventually { !receiver.of(type: "webhook_endpoint.created").isEmpty })
            // The secret is in no stored copy: the endpoint holds it sealed, GET never shows it.
            let stored = try await h.documents(WebhookCollections.endpoints)
            #expect(!"\(stored)".contains(secret))
            let (_, shown) = try await client.get("/v1/webhook-endpoints/\(id)", headers: admin)
            #expect(shown["secret"] == nil && shown["url"] as? String == receiver.url)
            let ledger = try await h.documents("processed_messages")
            #expect(!"\(ledger)".contains(secret), "the ledger's copy of the reply is redacted")
        }
        await receiver.stop()
    }

    @Test func aReceiverFailingTwiceThenAcceptingGetsTheEventWithThreeAttemptsLogged() async throws {
        let receiver = try await Receiver { n in n <= 2 ? 500 : 200 }
        try await withWebhooks(configure: {
            $0.retry = RetrySchedule(initialDelay: .milliseconds(200), maxDelay: .seconds(5), jitter: 0.1, window: .seconds(60))
        }) { h, client in
            let admin = try await h.auth()
            let (id, secret) = try await client.createEndpoint(receiver.url, events: ["invoice.paid"], headers: admin)
            let paid = try await h.publish("invoice.paid", ["id": "in_2"])
            #expect(await h.eventually { receiver.all.count >= 3 })
            let log = try await h.eventually {
                let (_, list) = try await client.get("/v1/webhook-endpoints/\(id)/deliveries", headers: admin)
                return ((list["data"] as? [[String: Any]])?.first?["status"] as? String) == "succeeded"
            }
            #expect(log)
            let (_, list) = try await client.get("/v1/webhook-endpoints/\(id)/deliveries", headers: admin)
            let delivery = try #require((list["data"] as? [[String: Any]])?.first)
            #expect(delivery["event_id"] as? String == "evt_\(paid.id)")
            let attempts = try #require(delivery["attempts"] as? [[String: Any]])
            #expect(attempts.map { $0["status_code"] as? Int } == [500, 500, 200])
            #expect(attempts.allSatisfy { ($0["latency_ms"] as? Int ?? -1) >= 0 && $0["at"] is String })
            #expect(attempts.last?["response"] as? String == "receiver answered 200 to #3")
            #expect(receiver.all.count == 3)
            #expect(Set(receiver.all.map(\.id)) == ["evt_\(paid.id)"], "every retry carries the same webhook-id")
            #expect(receiver.all.allSatisfy { Receiver.verify($0, secret: secret) })
        }
        await receiver.stop()
    }

    @Test func aReceiverThatIsDownGetsRetriesOnTheBackoffScheduleAndItsEndpointDisabled() async throws {
        // A port nobody listens on: bound by a receiver, then closed.
        let gone = try await Receiver()
        let url = gone.url
        await gone.stop()
        let audit = try await Receiver()
        try await withWebhooks(configure: {
            $0.retry = RetrySchedule(initialDelay: .milliseconds(250), maxDelay: .seconds(10), jitter: 0, window: .seconds(3))
        }) { h, client in
            let admin = try await h.auth()
            let (id, _) = try await client.createEndpoint(url, events: ["invoice.paid"], headers: admin)
            _ = try await client.createEndpoint(audit.url, events: ["webhook_endpoint.disabled"], headers: admin)
            try await h.publish("invoice.paid", ["id": "in_3"])
            let disabled = try await h.eventually(timeout: .seconds(30)) {
                let (_, endpoint) = try await client.get("/v1/webhook-endpoints/\(id)", headers: admin)
                return endpoint["status"] as? String == "disabled"
            }
            #expect(disabled, "an endpoint failing for its whole window is disabled")
            let (_, list) = try await client.get("/v1/webhook-endpoints/\(id)/deliveries", headers: admin)
            let delivery = try #require((list["data"] as? [[String: Any]])?.first)
            #expect(delivery["status"] as? String == "failed")
            let attempts = try #require(delivery["attempts"] as? [[String: Any]])
            let times = attempts.compactMap { ($0["at"] as? String).flatMap(MessageCoding.parseTimestamp) }
            // 0, +0.25, +0.5, +1, then the last at the window's end (3 s): backoff doubling.
            #expect(attempts.count == 5, "attempts \(attempts) of \(delivery)")
            let gaps = zip(times.dropFirst(), times).map { $0.timeIntervalSince($1) }
            #expect(gaps.count == 4)
            if gaps.count == 4 {
                // Lower bounds only: the schedule guarantees them, while a loaded machine may lengthen
                // any gap (a first retry 0.3 s late once made it longer than the second).
                #expect(gaps[0] >= 0.24 && gaps[1] >= 0.49 && gaps[2] >= 0.99, "gaps \(gaps)")
            }
            #expect(attempts.allSatisfy { $0["status_code"] is NSNull && $0["error"] is String })
            if let first = times.first, let last = times.last { #expect(last.timeIntervalSince(first) >= 2.99) }
            // The disabling is an event, delivered to whoever subscribed to it.
            #expect(await h.eventually { !audit.of(type: "webhook_endpoint.disabled").isEmpty })
            let event = try #require(audit.of(type: "webhook_endpoint.disabled").first?.json["data"] as? [String: Any])
            #expect(event["id"] as? String == id && event["reason"] as? String == "failing")
            // Enabled again by hand, it gets new events.
            let (enabled, body) = try await client.post("/v1/webhook-endpoints/\(id)/enable", headers: admin)
            #expect(enabled == .ok && body["status"] as? String == "enabled")
        }
        await audit.stop()
    }

    @Test func anEndpointSubscribedToInvoicePaidReceivesNothingElse() async throws {
        let paidOnly = try await Receiver()
        let everything = try await Receiver()
        try await withWebhooks { h, client in
            let admin = try await h.auth()
            let (_, secret) = try await client.createEndpoint(paidOnly.url, events: ["invoice.paid"], headers: admin)
            _ = try await client.createEndpoint(everything.url, events: ["*"], headers: admin)
            var published: [Envelope] = []
            for type in ["customer.created", "invoice.paid", "invoice.voided", "subscription.canceled", "invoice.paid"] {
                published.append(try await h.publish(type, ["id": UUID().uuidString]))
            }
            // Another tenant's invoice.paid reaches no endpoint of this one.
            try await h.publish("invoice.paid", ["id": "in_other"], tenant: "other")
            #expect(await h.eventually { Set(everything.all.map(\.id)).isSuperset(of: published.map { "evt_\($0.id)" }) })
            try await Task.sleep(for: .milliseconds(500))
            #expect(paidOnly.all.count == 2)
            #expect(paidOnly.all.allSatisfy { $0.type == "invoice.paid" && Receiver.verify($0, secret: secret) })
            #expect(!everything.all.contains { ($0.json["data"] as? [String: Any])?["id"] as? String == "in_other" })
        }
        await paidOnly.stop()
        await everything.stop()
    }

    @Test func aRequestAnsweredWith202RaisesOperationCompletedNamingItsResource() async throws {
        let receiver = try await Receiver()
        try await withWebhooks { h, client in
            let admin = try await h.auth()
            let (_, secret) = try await client.createEndpoint(receiver.url, events: ["operation.completed"], headers: admin)
            // Asked to answer asynchronously: 202 at once.
            let prefer = HTTPField.Name("Prefer")!
            let (status, accepted) = try await client.post(
                "/v1/webhook-endpoints", #"{"url":"\#(receiver.url)","events":["invoice.paid"],"description":"async"}"#,
                headers: admin + [prefer: "respond-async"])
            #expect(status == .accepted)
            let operation = try #require(accepted["id"] as? String)
            // Answered 202 because the wait ran out: no worker reads commands for a while.
            try await h.stopCommandConsumers()
            let (waited, timedOut) = try await client.get("/v1/webhook-endpoints", headers: admin + [prefer: "wait=0.2"])
            #expect(waited == .accepted)
            let second = try #require(timedOut["id"] as? String)
            h.startCommandConsumer()
            // A request answered synchronously raises nothing.
            let (ok, _) = try await client.get("/v1/webhook-endpoints", headers: admin)
            #expect(ok == .ok)
            #expect(await h.eventually { Set(receiver.all.compactMap { ($0.json["data"] as? [String: Any])?["id"] as? String }).isSuperset(of: [operation, second]) })
            let completed = receiver.all.filter { ($0.json["data"] as? [String: Any])?["id"] as? String == operation }
            let data = try #require(completed.first?.json["data"] as? [String: Any])
            #expect(data["status"] as? String == "succeeded" && data["http_status"] as? Int == 201)
            // The event names the resource, never carries the result (it reaches every events reader).
            #expect(data["resource_object"] as? String == "webhook_endpoint")
            #expect((data["resource_id"] as? String)?.hasPrefix("we_") == true, "\(data)")
            #expect(data["result"] == nil && data["error"] == nil, "\(data)")
            let text = String(decoding: completed[0].body, as: UTF8.self)
            #expect(!text.contains("\"async\"") && !text.contains("whsec_"), "no field of the result is in the event: \(text)")
            #expect(completed.allSatisfy { Receiver.verify($0, secret: secret) })
            let list = receiver.all.first { ($0.json["data"] as? [String: Any])?["id"] as? String == second }
            #expect((list?.json["data"] as? [String: Any])?["resource_object"] as? String == "list")
            try await Task.sleep(for: .milliseconds(500))
            #expect(receiver.all.count == 2, "one event per asynchronous request, none for the synchronous one")
        }
        await receiver.stop()
    }

    @Test func theWebhookWorkerSIGKILLedMidDeliveryStillDeliversEveryEventAtLeastOnce() async throws {
        let receiver = try await Receiver(delay: .milliseconds(150))
        let h = try await WebhookHarness(dispatchers: 0, eventConsumer: false)
        do {
            let admin = try await h.auth()
            try await h.application().test(.router) { client in
                _ = try await client.createEndpoint(receiver.url, events: ["invoice.paid"], headers: admin)
            }
            let worker = [
                "BILLING_WEBHOOK_LEASE_MS": "2000", "BILLING_CLAIM_IDLE_MS": "1000", "BILLING_CLAIM_INTERVAL_MS": "200",
                "BILLING_WEBHOOK_POLL_MS": "100", "BILLING_WEBHOOK_RETRY_INITIAL_MS": "200",
            ]
            let (first, _) = try await h.startWorkerProcess(environment: worker)
            var ids: Set<String> = []
            for i in 0..<30 { ids.insert("evt_" + (try await h.publish("invoice.paid", ["id": "in_\(i)"])).id) }
            // Killed while requests are in flight (the receiver takes 150 ms to answer each).
            #expect(await h.eventually { receiver.all.count >= 5 })
            kill(first.processIdentifier, SIGKILL)
            await ChildProcess.waitForExit(first)
            #expect(first.terminationReason == .uncaughtSignal)
            let before = Set(receiver.all.map(\.id))
            #expect(before.count < 30, "the worker should have been killed before it delivered everything")
            let (second, secondLog) = try await h.startWorkerProcess(environment: worker)
            // A transaction the killed worker left open keeps its writes locked until the server
            // expires it (60 s in MongoDB, transactionLifetimeLimitSeconds): allow for that.
            let restarted = ContinuousClock.now
            let all = await h.eventually(timeout: .seconds(120)) { Set(receiver.all.map(\.id)).isSuperset(of: ids) }
            let took = ContinuousClock.now - restarted
            let states = try await h.documents(WebhookCollections.deliveries).map {
                "\($0["status"]?.stringValue ?? "?")/\($0["attempt_count"]?.intValue ?? -1)/\($0["lease_until"].map { "\($0)" } ?? "-")"
            }
            let stored = try await h.documents(WebhookCollections.events).count
            let pending = try await h.redis.send(XPENDING_SUMMARY(h.names.events, group: WebhookService.eventGroup)).count
            #expect(all, "after \(took): deliveries \(states.count): \(states.sorted()); events stored \(stored); events pending \(pending)")
            #expect(
                all,
                "every event is delivered at least once: missing \(ids.subtracting(receiver.all.map(\.id)).count); worker log: \(((try? String(contentsOf: secondLog, encoding: .utf8)) ?? "").suffix(3000))"
            )
            // Receivers dedupe by webhook-id: each event's copies carry the same id and body.
            let byID = Dictionary(grouping: receiver.all, by: \.id)
            #expect(byID.keys.count == 30)
            #expect(byID.values.allSatisfy { Set($0.map(\.body)).count == 1 })
            let delivered = try await h.eventually {
                try await h.documents(WebhookCollections.deliveries, ["status": "succeeded"]).count == 30
            }
            #expect(delivered)
            kill(second.processIdentifier, SIGTERM)
            await ChildProcess.waitForExit(second)
        } catch {
            await h.shutdown()
            await receiver.stop()
            throw error
        }
        await h.shutdown()
        await receiver.stop()
    }
}
