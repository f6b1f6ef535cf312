import Foundation
import HTTPTypes
import HummingbirdTesting
import MessageBus
import Mongo
import Testing
import TestSupport

@testable import WebhookService

/// One tenant must not stall webhooks for all: endpoints that hang cannot take every delivery slot.
@Suite("Webhook fairness", .serialized)
struct WebhookFairnessTests {
    /// Twenty endpoints of one tenant answer only after the delivery timeout, with a backlog of 60
    /// deliveries; another tenant's endpoint still gets each of its events within its normal
    /// latency, far less than one timeout (what it would wait for a slot if the hanging ones held
    /// them all).
    @Test func hangingEndpointsOfOneTenantDoNotDelayAnotherTenantsDeliveries() async throws {
        let timeout: Duration = .seconds(3)
        var hanging: [Receiver] = []
        for _ in 0..<20 { hanging.append(try await Receiver(delay: .seconds(6))) }
        let healthy = try await Receiver()
        let receivers = hanging
        try await withWebhooks(configure: {
            $0.requestTimeout = timeout
            $0.maxEndpointsPerTenant = 20
        }) { h, client in
            let stalled = try await h.auth(tenant: "stalled")
            let other = try await h.auth(tenant: "other")
            for receiver in receivers {
                _ = try await client.createEndpoint(receiver.url, events: ["invoice.paid"], headers: stalled)
            }
            _ = try await client.createEndpoint(healthy.url, events: ["invoice.paid"], headers: other)
            for i in 0..<3 { try await h.publish("invoice.paid", ["id": "in_stalled_\(i)"], tenant: "stalled") }
            // The backlog is in place and the hanging receivers hold requests open.
            let backlog = await h.eventually {
                (try? await h.documents(WebhookCollections.deliveries, ["tenant_id": "stalled"]).count) == 60
            }
            #expect(backlog)
            #expect(await h.eventually { receivers.map { $0.all.count }.reduce(0, +) >= 4 })

            var latencies: [Double] = []
            for i in 0..<3 {
                let published = Date()
                let event = try await h.publish("invoice.paid", ["id": "in_other_\(i)"], tenant: "other")
                let arrived = await h.eventually(timeout: .seconds(60)) { healthy.all.contains { $0.id == "evt_\(event.id)" } }
                #expect(arrived)
                if let got = healthy.all.first(where: { $0.id == "evt_\(event.id)" }) {
                    latencies.append(got.at.timeIntervalSince(published))
                }
            }
            print("fairness: the other tenant's deliveries arrived after \(latencies.map { String(format: "%.3f s", $0) })")
            // Starved, a delivery waits at least one timeout (3 s) for a slot; served fairly, it takes
            // its normal latency (tens to hundreds of milliseconds; 2 s leaves room for a loaded machine).
            #expect(latencies.count == 3 && latencies.allSatisfy { $0 < 2.0 }, "latencies \(latencies)")

            // The hanging ones did hang: every attempt logged so far ran into the timeout.
            let attempted = await h.eventually(timeout: .seconds(30)) {
                let documents = (try? await h.documents(WebhookCollections.deliveries, ["tenant_id": "stalled", "attempt_count": ["$gte": 1]])) ?? []
                return documents.count >= 4
            }
            #expect(attempted)
            let logged = try await h.documents(WebhookCollections.deliveries, ["tenant_id": "stalled", "attempt_count": ["$gte": 1]])
            let latenciesMS = logged.flatMap { $0["attempts"]?.arrayValue ?? [] }.compactMap { $0.documentValue?["latency_ms"]?.intValue }
            #expect(!latenciesMS.isEmpty && latenciesMS.allSatisfy { $0 >= 2_900 }, "\(latenciesMS)")
        }
        for receiver in receivers { await receiver.stop() }
        await healthy.stop()
    }

    /// Round-robin by tenant, then endpoint, within each one's share of the slots.
    @Test func slotsAreSharedRoundRobinWithinEachTenantsAndEndpointsShare() {
        typealias Due = (id: String, tenant: String, endpoint: String)
        var slots = DeliverySlots(.init(total: 16, perTenant: 8, perEndpoint: 2))
        // A stalled tenant: 20 endpoints with 3 due deliveries each, found first; another tenant's one.
        var due: [Due] = []
        for n in 0..<3 { for e in 0..<20 { due.append(("s\(e)-\(n)", "stalled", "we_s\(e)")) } }
        due.append(("o-0", "other", "we_o"))
        let first = slots.pick(due, id: \.id, tenant: \.tenant, endpoint: \.endpoint)
        #expect(first.filter { $0.tenant == "stalled" }.count == 8, "a tenant gets its share, not every slot")
        #expect(Set(first.filter { $0.tenant == "stalled" }.map(\.endpoint)).count == 8, "one per endpoint per round")
        #expect(first.contains { $0.id == "o-0" })
        #expect(slots.fullTenants == ["stalled"] && slots.free == 7)
        // Nothing more of the stalled tenant until one of its deliveries finishes.
        #expect(slots.pick(due, id: \.id, tenant: \.tenant, endpoint: \.endpoint).isEmpty)
        let done = first.first { $0.tenant == "stalled" }?.id ?? ""
        slots.release(done)
        let next = slots.pick(due.filter { $0.id != done }, id: \.id, tenant: \.tenant, endpoint: \.endpoint)
        #expect(next.count == 1 && next.allSatisfy { $0.tenant == "stalled" && !first.map(\.id).contains($0.id) })
        // An endpoint not heard from yet gets its own small share; once it answers quickly, its
        // tenant's whole share; slow again, the small one.
        var single = DeliverySlots(.init(total: 16, perTenant: 8, perEndpoint: 2, slowAttempt: .seconds(1)))
        var burst = (0..<20).map { ("d\($0)", "t", "we_1") }
        func pick() -> [String] {
            let picked = single.pick(burst, id: \.0, tenant: \.1, endpoint: \.2).map(\.0)
            burst.removeAll { picked.contains($0.0) }
            return picked
        }
        #expect(pick() == ["d0", "d1"])
        #expect(single.fullEndpoints == ["we_1"])
        single.release("d0", attempt: .milliseconds(40))
        #expect(pick().count == 7, "quick: up to the tenant's 8")
        #expect(single.inFlight == 8 && single.fullTenants == ["t"])
        for id in ["d1", "d2", "d3", "d4", "d5", "d6", "d7"] { single.release(id, attempt: .seconds(3)) }
        #expect(single.inFlight == 1)
        #expect(pick().count == 1, "slow: back to 2")
    }
}
