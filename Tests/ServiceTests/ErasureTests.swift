import CustomerService
import Foundation
import HTTPTypes
import MessageBus
import Mongo
import Redis
import ServiceKit
import Testing

@Suite("Customers: export, erasure, read cache")
struct ErasureTests {
    @Test func exportHoldsEverythingAboutTheCustomer() async throws {
        try await withServices { h in
            let admin = try await h.admin()
            try await h.api { api in
                let id = try #require(try await api.post("/v1/customers", admin, json(["name": "Exp", "email": "exp@example.com"])).string("id"))
                try await h.database.collection("subscriptions", as: BSONDocument.self).insertOne(
                    BillingFixtures.subscription("sub_x1", customer: id, plan: "plan_1", status: "active"))
                // Five invoices, exported two at a time: each page bounded, every invoice once (issue 17, item 5).
                let invoiceIDs = (1...5).map { "in_x\($0)" }
                for invoice in invoiceIDs {
                    try await h.database.collection("invoices", as: BSONDocument.self).insertOne(
                        BillingFixtures.invoice(invoice, customer: id))
                }
                let owner = try await h.customer(id)
                let export = try await api.get("/v1/customers/\(id)/export?limit=2", owner)
                #expect(export.status == 200)
                #expect(export.string("object") == "customer_export")
                #expect((export["customer"] as? [String: Any])?["email"] as? String == "exp@example.com")
                func section(_ answer: API.Answer, _ name: String) -> (ids: [String], more: Bool?) {
                    let list = answer[name] as? [String: Any]
                    return (((list?["data"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }, list?["has_more"] as? Bool)
                }
                #expect(section(export, "subscriptions").ids == ["sub_x1"] && section(export, "subscriptions").more == false)
                #expect(((export["invoices"] as? [String: Any])?["data"] as? [[String: Any]])?.first?["total"] as? String == "19.99")
                var seen = section(export, "invoices").ids
                var more = section(export, "invoices").more
                while more == true, let last = seen.last, seen.count < 10 {
                    let next = try await api.get("/v1/customers/\(id)/export?limit=2&invoices_after=\(last)", owner)
                    #expect(section(next, "invoices").ids.count <= 2)
                    seen += section(next, "invoices").ids
                    more = section(next, "invoices").more
                }
                #expect(seen == invoiceIDs)
                #expect(try await api.get("/v1/customers/\(id)/export?limit=101", owner).param == "limit")
            }
        }
    }

    /// GDPR erasure: afterwards no collection of the database holds the name, the emails (old and
    /// new) or the metadata; invoices stay with an anonymised snapshot; running subscriptions get a
    /// `subscription.cancel` command; the auth worker gets `customer.deleted` with the user id.
    @Test func erasureLeavesNoPersonalDataInAnyCollection() async throws {
        try await withServices { h in
            let admin = try await h.admin()
            let system = Principal(subject: "service:auth", role: .system, tenant: "t1")
            let id = ResourceID.make("cus", at: Date())
            let pii = ["Zebulon Quixote", "zebulon.first@example.com", "zebulon.second@example.com", "Quixote-CRM-7781"]
            let signup = try await h.command(
                "customer.create", to: CustomerService.name, principal: system,
                payload: .object(["body": .object([
                    "id": .string(id), "name": .string(pii[0]), "email": .string(pii[1]), "user_id": .string("usr_zeb"),
                ])]))
            #expect(signup.httpStatus == 201)
            #expect(try await h.redis.send(GET(h.names.operation(signup.id))) != nil)
            let other = try #require(try await h.command(
                "customer.create", to: CustomerService.name, principal: system,
                payload: .object(["body": .object(["name": .string("Other Person"), "email": .string("other@example.com")])])
            ).result?["id"]?.stringValue)
            let subscriptions = h.database.collection("subscriptions", as: BSONDocument.self)
            try await subscriptions.insertMany([
                BillingFixtures.subscription("sub_live", customer: id, plan: "plan_1", status: "active"),
                BillingFixtures.subscription("sub_trial", customer: id, plan: "plan_1", status: "trialing"),
                BillingFixtures.subscription("sub_over", customer: id, plan: "plan_1", status: "canceled"),
                BillingFixtures.subscription("sub_theirs", customer: other, plan: "plan_1", status: "active"),
            ])
            let invoices = h.database.collection("invoices", as: BSONDocument.self)
            try await invoices.insertOne(BillingFixtures.invoice("in_1", customer: id, name: pii[0], email: pii[1]))
            try await h.api { api in
                let customer = try await h.customer(id)
                let changed = try await api.patch("/v1/customers/\(id)", admin, json(["email": pii[2], "metadata": ["crm": pii[3]]]))
                #expect(changed.status == 200)
                #expect(try await api.get("/v1/customers/\(id)", customer).string("email") == pii[2])
                #expect(try await api.get("/v1/customers/\(id)/export", customer).status == 200)

                let erased = try await api.delete("/v1/customers/\(id)", admin)
                #expect(erased.status == 200)
                #expect(erased.string("status") == "deleted")
                #expect(erased.string("name") == "Deleted customer")
                // Reads now show the erased customer, from the cache or not.
                let read = try await api.get("/v1/customers/\(id)", admin)
                #expect(read.string("status") == "deleted" && read.string("email")?.hasSuffix("@erased.invalid") == true)
                #expect(try await api.delete("/v1/customers/\(id)", admin).status == 200)
            }

            // Every collection, every document.
            for (collection, text) in try await h.everyDocument() {
                for value in pii {
                    #expect(!text.lowercased().contains(value.lowercased()), "\(collection) still holds \(value)")
                }
            }
            // Invoices are kept, anonymised.
            let invoice = try #require(try await invoices.findOne(["_id": "in_1"]))
            #expect(invoice["customer_name"] == "Deleted customer" && invoice["total"] == .decimal128(Decimal(string: "19.99")!))
            // Running subscriptions are canceled through commands with IDs derived from them, once.
            let outbox = try await h.outbox()
            let cancels = outbox.filter { $0["type"] == "subscription.cancel" }
            #expect(Set(cancels.compactMap { $0["_id"]?.stringValue }) == ["sub_live:erasure", "sub_trial:erasure"])
            #expect(cancels.allSatisfy { $0["service"] == "subscription" })
            let deleted = try #require(outbox.first { $0["type"] == "customer.deleted" })
            let event = try MessageCoding.decode(Envelope.self, from: try #require(deleted["envelope"]?.stringValue))
            #expect(event.payload == .object(["id": .string(id), "tenant_id": "t1", "user_id": "usr_zeb"]))
            #expect(outbox.filter { $0["type"] == "customer.deleted" }.count == 1)
            // Redis: the operation state of the customer's earlier writes is gone (the signup's reply held
            // the name and email), and the cached customer holds no personal data either.
            #expect(try await h.redis.send(GET(h.names.operation(signup.id))) == nil)
            let cached = try await h.redis.send(GET("\(h.names.prefix):cache:customer:t1:\(id)")).map { String(decoding: $0, as: UTF8.self) } ?? ""
            for value in pii { #expect(!cached.lowercased().contains(value.lowercased())) }
        }
    }

    @Test func theReadCacheServesGetsAndEveryWriteDropsIt() async throws {
        try await withServices { h in
            let admin = try await h.admin()
            try await h.api { api in
                let id = try #require(try await api.post("/v1/customers", admin, json(["name": "Cached", "email": "cached@example.com"])).string("id"))
                let key = "\(h.names.prefix):cache:customer:t1:\(id)"
                // The create left a tombstone at version 1: a read fills it with version 1's data.
                #expect(try await api.get("/v1/customers/\(id)", admin).string("name") == "Cached")
                let held = try await h.redis.send(GET(key)).map { String(decoding: $0, as: UTF8.self) }
                #expect(held?.hasPrefix("1 {") == true)
                // Changed behind the worker's back: the cache still answers, which shows it is used.
                try await h.database.collection("customers", as: BSONDocument.self).updateOne(
                    ["_id": .string(id)], update: ["$set": ["name": "Changed behind"]])
                #expect(try await api.get("/v1/customers/\(id)", admin).string("name") == "Cached")
                // A write through the worker drops it.
                #expect(try await api.patch("/v1/customers/\(id)", admin, json(["name": "Renamed"])).status == 200)
                #expect(try await api.get("/v1/customers/\(id)", admin).string("name") == "Renamed")
                #expect(try await api.post("/v1/customers/\(id)/suspend", admin).status == 200)
                #expect(try await api.get("/v1/customers/\(id)", admin).string("status") == "suspended")
                // A customer principal never gets another's cached copy.
                let other = try #require(try await api.post("/v1/customers", admin, json(["name": "O", "email": "o@example.com"])).string("id"))
                #expect(try await api.get("/v1/customers/\(id)", try await h.customer(other)).status == 404)
            }
        }
    }

    @Test func aReadOlderThanAWriteCannotRefillTheCache() async throws {
        try await withServices { h in
            let cache = ReadCache(prefix: h.names.prefix, kind: "customer", ttl: .seconds(30))
            try await cache.invalidate(h.redis, tenant: "t1", id: "cus_1", version: 3)
            await cache.fill(h.redis, tenant: "t1", id: "cus_1", version: 2, value: .object(["name": "stale"]))
            #expect(await cache.get(h.redis, tenant: "t1", id: "cus_1") == nil)
            await cache.fill(h.redis, tenant: "t1", id: "cus_1", version: 3, value: .object(["name": "fresh"]))
            #expect(await cache.get(h.redis, tenant: "t1", id: "cus_1") == .object(["name": "fresh"]))
            // An invalidation arriving late (an older write) leaves the newer copy alone.
            try await cache.invalidate(h.redis, tenant: "t1", id: "cus_1", version: 2)
            #expect(await cache.get(h.redis, tenant: "t1", id: "cus_1") == .object(["name": "fresh"]))
            try await cache.invalidate(h.redis, tenant: "t1", id: "cus_1", version: 4)
            #expect(await cache.get(h.redis, tenant: "t1", id: "cus_1") == nil)
        }
    }
}
