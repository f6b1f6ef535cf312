import CustomerService
@testable import Gateway
import Foundation
import HTTPTypes
import MessageBus
import Mongo
import Redis
import TestSupport
import Testing

@Suite("Customers through the gateway")
struct CustomerRouteTests {
    @Test func createGetUpdateListAndMeThroughTheGateway() async throws {
        try await withServices { h in
            let admin = try await h.admin()
            try await h.api { api in
                let created = try await api.post(
                    "/v1/customers", admin, json(["name": "Ada Lovelace", "email": "Ada@Example.com", "metadata": ["crm": "42"]]))
                #expect(created.status == 201)
                let id = try #require(created.string("id"))
                #expect(id.hasPrefix("cus_"))
                #expect(created.string("email") == "ada@example.com")
                #expect(created.string("status") == "active")
                #expect((created["metadata"] as? [String: String]) == ["crm": "42"])

                let fetched = try await api.get("/v1/customers/\(id)", admin)
                #expect(fetched.status == 200 && fetched.string("name") == "Ada Lovelace")

                let updated = try await api.patch(
                    "/v1/customers/\(id)", admin, json(["name": "Ada King", "metadata": ["crm": "", "tier": "gold"]]))
                #expect(updated.status == 200)
                #expect((updated["metadata"] as? [String: String]) == ["tier": "gold"])
                // The cached copy from the GET above was dropped by the update.
                #expect(try await api.get("/v1/customers/\(id)", admin).string("name") == "Ada King")

                let list = try await api.get("/v1/customers", admin)
                #expect(list.status == 200 && list.string("object") == "list")
                #expect((list["data"] as? [[String: Any]])?.map { $0["id"] as? String } == [id])

                let me = try await api.get("/v1/customers/me", try await h.customer(id))
                #expect(me.status == 200 && me.string("id") == id)
                // Not a customer principal: there is no "me".
                #expect(try await api.get("/v1/customers/me", admin).status == 403)
            }
            let events = try await h.outbox().compactMap { $0["type"]?.stringValue }
            #expect(events == ["customer.created", "customer.updated"])
        }
    }

    @Test func listFiltersByEmailAndStatusNewestFirst() async throws {
        try await withServices { h in
            let admin = try await h.admin()
            try await h.api { api in
                var ids: [String] = []
                for i in 0..<3 {
                    let created = try await api.post("/v1/customers", admin, json(["name": "C\(i)", "email": "c\(i)@example.com"]))
                    ids.append(try #require(created.string("id")))
                }
                #expect(try await api.post("/v1/customers/\(ids[1])/suspend", admin).string("status") == "suspended")
                let all = try await api.get("/v1/customers", admin)
                #expect((all["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ids.reversed())
                let byEmail = try await api.get("/v1/customers?email=C2%40example.com", admin)
                #expect((byEmail["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [ids[2]])
                let suspended = try await api.get("/v1/customers?status=suspended", admin)
                #expect((suspended["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [ids[1]])
                let badStatus = try await api.get("/v1/customers?status=gone", admin)
                #expect(badStatus.status == 400 && badStatus.param == "status")
            }
        }
    }

    @Test func paginationOver250CustomersReturnsEachExactlyOnce() async throws {
        try await withServices { h in
            let admin = try await h.admin()
            let principal = Principal(subject: "usr_admin_t1", role: .admin, tenant: "t1")
            // Created straight on the worker's stream, 25 at a time.
            var created: Set<String> = []
            for batch in 0..<10 {
                try await withThrowingTaskGroup(of: String?.self) { group in
                    for i in 0..<25 {
                        let n = batch * 25 + i
                        group.addTask {
                            let reply = try await h.command(
                                "customer.create", to: CustomerService.name, principal: principal,
                                payload: .object(["body": .object(["name": .string("P\(n)"), "email": .string("p\(n)@example.com")])]))
                            return reply.result?["id"]?.stringValue
                        }
                    }
                    for try await id in group { if let id { created.insert(id) } }
                }
            }
            #expect(created.count == 250)
            let expected = created
            try await h.api { api in
                var seen: [String] = []
                var cursor: String?
                var pages = 0
                while true {
                    let uri = "/v1/customers?limit=100" + (cursor.map { "&starting_after=\($0)" } ?? "")
                    let page = try await api.get(uri, admin)
                    #expect(page.status == 200)
                    let ids = (page["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                    seen += ids
                    pages += 1
                    guard page["has_more"] as? Bool == true, let last = ids.last, pages < 10 else { break }
                    cursor = last
                }
                #expect(pages == 3)
                #expect(seen.count == 250)
                #expect(Set(seen) == expected)
                #expect(seen == seen.sorted(by: >), "newest first")
                let first = try await api.get("/v1/customers", admin)
                #expect((first["data"] as? [Any])?.count == 10 && first["has_more"] as? Bool == true)
                #expect(try await api.get("/v1/customers?limit=0", admin).param == "limit")
                #expect(try await api.get("/v1/customers?limit=101", admin).param == "limit")
            }
        }
    }

    @Test func aCustomerCannotReadChangeOrExportAnother() async throws {
        try await withServices { h in
            let admin = try await h.admin()
            try await h.api { api in
                let a = try #require(try await api.post("/v1/customers", admin, json(["name": "A", "email": "a@example.com"])).string("id"))
                let b = try #require(try await api.post("/v1/customers", admin, json(["name": "B", "email": "b@example.com"])).string("id"))
                let asA = try await h.customer(a)
                #expect(try await api.get("/v1/customers/\(a)", asA).status == 200)
                #expect(try await api.get("/v1/customers/\(a)/export", asA).status == 200)
                // B exists, yet for A it does not: 404, never 403.
                let read = try await api.get("/v1/customers/\(b)", asA)
                #expect(read.status == 404 && read.code == "not_found")
                #expect(try await api.patch("/v1/customers/\(b)", asA, json(["name": "Mallory"])).status == 404)
                #expect(try await api.get("/v1/customers/\(b)/export", asA).status == 404)
                #expect(try await api.get("/v1/customers/cus_doesnotexist", asA).status == 404)
                // The list shows A only.
                let list = try await api.get("/v1/customers", try await h.apiKey(
                    Principal(subject: "svc", role: .service, scopes: ["customers:read"], tenant: "t1")))
                #expect((list["data"] as? [Any])?.count == 2)
                // A customer changes its own name and email, not the merchant's metadata.
                #expect(try await api.patch("/v1/customers/\(a)", asA, json(["name": "Ada"])).status == 200)
                let metadata = try await api.patch("/v1/customers/\(a)", asA, json(["metadata": ["vip": "yes"]]))
                #expect(metadata.status == 403 && metadata.param == "metadata")
                // Another tenant's admin sees nothing of tenant t1.
                #expect(try await api.get("/v1/customers/\(a)", try await h.admin(tenant: "t2")).status == 404)
                #expect(try await api.delete("/v1/customers/\(b)", asA).status == 403)
                #expect(try await api.get("/v1/customers/\(b)", admin).string("name") == "B")
            }
        }
    }

    @Test func aTakenEmailIs409() async throws {
        try await withServices { h in
            let admin = try await h.admin()
            try await h.api { api in
                _ = try await api.post("/v1/customers", admin, json(["name": "A", "email": "same@example.com"]))
                let again = try await api.post("/v1/customers", admin, json(["name": "B", "email": "SAME@example.com"]))
                #expect(again.status == 409 && again.code == "email_taken" && again.param == "email")
                let b = try #require(try await api.post("/v1/customers", admin, json(["name": "B", "email": "b@example.com"])).string("id"))
                let update = try await api.patch("/v1/customers/\(b)", admin, json(["email": "same@example.com"]))
                #expect(update.status == 409 && update.code == "email_taken")
                // The same email in another tenant is another customer.
                #expect(try await api.post("/v1/customers", try await h.admin(tenant: "t2"), json(["name": "A", "email": "same@example.com"])).status == 201)
            }
            #expect(try await h.database.collection("customers", as: BSONDocument.self).count(["tenant_id": "t1"]) == 2)
        }
    }

    @Test func suspendAndReactivateFollowTheStateMachine() async throws {
        try await withServices { h in
            let admin = try await h.admin()
            try await h.api { api in
                let id = try #require(try await api.post("/v1/customers", admin, json(["name": "S", "email": "s@example.com"])).string("id"))
                #expect(try await api.post("/v1/customers/\(id)/suspend", admin).string("status") == "suspended")
                #expect(try await api.post("/v1/customers/\(id)/suspend", admin).string("status") == "suspended")
                #expect(try await api.get("/v1/customers/\(id)", admin).string("status") == "suspended")
                #expect(try await api.post("/v1/customers/\(id)/reactivate", admin).string("status") == "active")
                #expect(try await api.post("/v1/customers/\(id)/suspend", try await h.customer(id)).status == 403)
                #expect(try await api.delete("/v1/customers/\(id)", admin).string("status") == "deleted")
                let late = try await api.post("/v1/customers/\(id)/reactivate", admin)
                #expect(late.status == 409 && late.code == "customer_deleted")
                #expect(try await api.patch("/v1/customers/\(id)", admin, json(["name": "Back"])).status == 409)
            }
            let events = try await h.outbox().compactMap { $0["type"]?.stringValue }
            #expect(events == ["customer.created", "customer.suspended", "customer.updated", "customer.deleted"])
        }
    }
}

/// What a client's requests leave in Redis (issue 17, item 5): reads are deleted from the command
/// stream once answered, and an operation answered at once keeps its state minutes, not a day;
/// one answered 202 (asked so, or because the gateway stopped waiting) keeps it the day.
@Suite("Redis retention of answered requests")
struct AnsweredRequestRetentionTests {
    @Test func readsLeaveNoStreamEntryAndAnsweredStateExpiresSoon() async throws {
        try await withServices { h in
            let admin = try await h.admin()
            try await h.api { api in
                let created = try await api.post("/v1/customers", admin, json(["name": "Ada", "email": "ada@example.com"]))
                let id = try #require(created.string("id"))
                for _ in 0..<20 { #expect(try await api.get("/v1/customers/\(id)", admin).status == 200) }
                let stream = h.names.commands(CustomerService.name)
                // The create stays (commands are kept for replay); the 20 reads are gone once answered.
                let emptied = try await TestServers.eventually(timeout: .seconds(10)) {
                    try await h.redis.send(XLEN(stream)) == 1
                }
                let left = try await h.redis.send(XLEN(stream))
                #expect(emptied, "\(left) entries in \(stream)")
                // Answered at once: the state lives minutes.
                let ops = try await h.redis.keys(prefix: "\(h.names.prefix):op:")
                #expect(ops.count >= 21)
                for key in ops {
                    let ttl = try await h.redis.send(PTTL(key))
                    #expect(ttl > 0 && ttl <= 300_000, "\(key) lives \(ttl) ms")
                }
                // Asked with respond-async: the day.
                let accepted = try await api.get("/v1/customers/\(id)", admin + [HTTPField.Name("Prefer")!: "respond-async"])
                #expect(accepted.status == 202)
                let operation = try #require(accepted.string("id"))
                #expect(try await TestServers.eventually(timeout: .seconds(10)) {
                    try await api.get("/v1/operations/\(operation)", admin).string("status") == "succeeded"
                })
                #expect(try await h.redis.send(PTTL(h.names.operation(operation))) > 3_600_000)
                // The gateway stopped waiting after the worker answered: its mark keeps the state the day.
                let answered = try #require(ops.first)
                let answeredID = String(answered.dropFirst("\(h.names.prefix):op:{".count).dropLast())
                _ = try await h.redis.eval(
                    CommandEndpoint.markAsync, keys: [answered, OperationCompleted.asyncMarkerKey(h.names, answeredID)],
                    arguments: [RedisArgument(86_400_000)])
                #expect(try await h.redis.send(PTTL(answered)) > 3_600_000)
                // The gateway stopped waiting before the worker answered: the worker finds the mark.
                let late = MessageID.make()
                _ = try await h.redis.send(SET(OperationCompleted.asyncMarkerKey(h.names, late), value: "1"))
                let principal = Principal(subject: "usr_admin_t1", role: .admin, tenant: "t1")
                let reply = try await h.command(
                    "customer.get", to: CustomerService.name, principal: principal,
                    payload: .object(["path": .object(["id": .string(id)])]), id: late)
                #expect(reply.status == .succeeded)
                #expect(try await TestServers.eventually(timeout: .seconds(5)) {
                    try await h.redis.send(PTTL(h.names.operation(late))) > 3_600_000
                })
            }
        }
    }
}
