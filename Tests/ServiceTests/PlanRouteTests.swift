import Foundation
import HTTPTypes
import MessageBus
import Mongo
import PlanService
import Testing

@Suite("Plans through the gateway")
struct PlanRouteTests {
    static let basic = ["name": "Pro", "price": "19.99", "currency": "USD", "interval": "month"]

    @Test func createGetListUpdateAndArchive() async throws {
        try await withServices { h in
            let admin = try await h.admin()
            try await h.api { api in
                var body: [String: Any] = Self.basic
                body["features"] = ["api", "support"]
                body["trial_days"] = 14
                body["metadata"] = ["sku": "pro-m"]
                let created = try await api.post("/v1/plans", admin, json(body))
                #expect(created.status == 201, "\(created.text)")
                let id = try #require(created.string("id"))
                #expect(id.hasPrefix("plan_"))
                #expect(created.string("price") == "19.99" && created.string("currency") == "USD")
                #expect(created["interval_count"] as? Int == 1 && created["trial_days"] as? Int == 14)
                #expect(created["active"] as? Bool == true)

                // Active plans need no login.
                let list = try await api.get("/v1/plans?tenant=x".replacingOccurrences(of: "?tenant=x", with: ""))
                #expect(list.status == 200)
                #expect(try await api.get("/v1/plans/\(id)", try await h.customer("cus_someone")).string("name") == "Pro")

                let updated = try await api.patch("/v1/plans/\(id)", admin, json(["name": "Pro+", "price": "24.50"]))
                #expect(updated.status == 200 && updated.string("price") == "24.50" && updated.string("name") == "Pro+")

                let archived = try await api.post("/v1/plans/\(id)/archive", admin)
                #expect(archived.status == 200 && archived["active"] as? Bool == false)
                #expect(try await api.post("/v1/plans/\(id)/archive", admin).status == 200)
                #expect(try await api.get("/v1/plans/\(id)", admin)["active"] as? Bool == false)
                let archivedList = try await api.get("/v1/plans?active=false", admin)
                #expect((archivedList["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [id])
                #expect(try await api.get("/v1/plans?active=false").status == 403)
                #expect(try await api.post("/v1/plans", try await h.customer("cus_someone"), json(Self.basic)).status == 403)
            }
            let events = try await h.outbox().compactMap { $0["type"]?.stringValue }
            #expect(events == ["plan.created", "plan.updated", "plan.archived"])
            let stored = try #require(try await h.database.collection("plans", as: BSONDocument.self).findOne([:]))
            #expect(stored["price"] == .decimal128(Decimal(string: "24.5")!), "money is Decimal128, never a double")
        }
    }

    @Test func theListShowsActivePlansOfTheTenantOnlyAndPages() async throws {
        try await withServices { h in
            let admin = try await h.admin(tenant: "default")
            try await h.api { api in
                var ids: [String] = []
                for i in 0..<3 {
                    var body = Self.basic
                    body["name"] = "P\(i)"
                    ids.append(try #require(try await api.post("/v1/plans", admin, json(body)).string("id")))
                }
                _ = try await api.post("/v1/plans/\(ids[0])/archive", admin)
                _ = try await api.post("/v1/plans", try await h.admin(tenant: "t2"), json(Self.basic))
                let page = try await api.get("/v1/plans?limit=1")
                #expect((page["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [ids[2]])
                #expect(page["has_more"] as? Bool == true)
                let next = try await api.get("/v1/plans?limit=1&starting_after=\(ids[2])")
                #expect((next["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [ids[1]])
                #expect(next["has_more"] as? Bool == false)
            }
        }
    }

    /// Precision and currency are the worker's checks (422); shapes are the gateway's (400).
    @Test(arguments: [
        (["price": "19.999"], 422, "price"),
        (["price": "100.5", "currency": "JPY"], 422, "price"),
        (["price": "1.2345", "currency": "KWD"], 422, "price"),
        (["currency": "XYZ"], 422, "currency"),
        (["price": "-1"], 422, "price"),
        (["interval_count": 0], 400, "interval_count"),
        (["interval": "fortnight"], 400, "interval"),
        (["name": String(repeating: "n", count: 10_000)], 400, "name"),
        (["name": ["$gt": ""]], 400, "name"),
        (["price": 19.99], 400, "price"),
        (["colour": "blue"], 400, "colour"),
        (["currency": "usd"], 400, "currency"),
    ] as [([String: any Sendable], Int, String)])
    func badPlansAreRefusedNamingTheField(_ change: [String: any Sendable], _ status: Int, _ param: String) async throws {
        try await withServices { h in
            let admin = try await h.admin()
            try await h.api { api in
                var body: [String: Any] = Self.basic
                for (key, value) in change { body[key] = value }
                let answer = try await api.post("/v1/plans", admin, json(body))
                #expect(answer.status == status, "\(answer.text)")
                #expect(answer.param == param)
            }
            #expect(try await h.database.collection("plans", as: BSONDocument.self).count() == 0)
        }
    }

    @Test(arguments: [("100", "JPY", "100"), ("10.500", "USD", "10.50"), ("0", "EUR", "0.00"), ("1.234", "KWD", "1.234")])
    func pricesKeepTheCurrencysMinorUnits(_ price: String, _ currency: String, _ shown: String) async throws {
        try await withServices { h in
            let admin = try await h.admin()
            try await h.api { api in
                var body = Self.basic
                body["price"] = price
                body["currency"] = currency
                let created = try await api.post("/v1/plans", admin, json(body))
                #expect(created.status == 201 && created.string("price") == shown, "\(created.text)")
            }
        }
    }

    @Test func theWorkerChecksWhatTheGatewayChecksToo() async throws {
        try await withServices { h in
            let admin = Principal(subject: "usr_admin", role: .admin, tenant: "t1")
            for (body, param) in [
                (JSONValue.object(["name": "P", "price": "10", "currency": "USD", "interval": "month", "interval_count": .number("0")]), "interval_count"),
                (.object(["name": "P", "price": "10", "currency": "USD", "interval": "month", "colour": "blue"]), "colour"),
                (.object(["name": "P", "price": .number("10"), "currency": "USD", "interval": "month"]), "price"),
                (.object(["name": "P", "price": "10", "currency": "usd", "interval": "month"]), "currency"),
            ] {
                let reply = try await h.command("plan.create", to: PlanService.name, principal: admin, payload: .object(["body": body]))
                #expect(reply.error?.status == 422 && reply.error?.param == param, "\(String(describing: reply.error))")
            }
        }
    }

    @Test func billingTermsAreFixedOnceASubscriptionExists() async throws {
        try await withServices { h in
            let admin = try await h.admin()
            try await h.api { api in
                let id = try #require(try await api.post("/v1/plans", admin, json(Self.basic)).string("id"))
                #expect(try await api.patch("/v1/plans/\(id)", admin, json(["price": "21.50"])).status == 200)
                // A JPY plan cannot keep a price with cents.
                let yen = try await api.patch("/v1/plans/\(id)", admin, json(["currency": "JPY"]))
                #expect(yen.status == 422 && yen.param == "currency")
                try await h.database.collection("subscriptions", as: BSONDocument.self).insertOne(
                    BillingFixtures.subscription("sub_1", customer: "cus_1", plan: id, status: "active"))
                for change in [["price": "25.00"], ["currency": "EUR"], ["interval": "year"], ["interval_count": 2]] as [[String: Any]] {
                    let refused = try await api.patch("/v1/plans/\(id)", admin, json(change))
                    #expect(refused.status == 409 && refused.code == "plan_in_use", "\(refused.text)")
                    #expect(refused.param == change.keys.first)
                    #expect(refused.string("detail")?.contains("create a new plan") == true)
                }
                let renamed = try await api.patch(
                    "/v1/plans/\(id)", admin, json(["name": "Pro 2", "description": "More", "features": ["x"], "metadata": ["k": "v"]]))
                #expect(renamed.status == 200 && renamed.string("price") == "21.50")
                // The same price again is no change.
                #expect(try await api.patch("/v1/plans/\(id)", admin, json(["price": "21.5"])).status == 200)
                #expect(try await api.post("/v1/plans/\(id)/archive", admin).status == 200)
            }
        }
    }
}
