import CustomerService
import Foundation
import HTTPTypes
import MessageBus
import Mongo
import Testing

@Suite("Customers: bad input and the signup contract")
struct CustomerInputTests {
    /// Bodies the gateway's schema refuses (400 naming the field) before any worker sees them.
    @Test(arguments: [
        (#"{"name":"A","email":"not-an-email"}"#, "email"),
        (#"{"name":"A","email":"a@example"}"#, "email"),
        (#"{"name":"A","email":{"$gt":""}}"#, "email"),
        (#"{"name":{"$gt":""},"email":"a@example.com"}"#, "name"),
        ("{\"name\":\"\(String(repeating: "x", count: 10_000))\",\"email\":\"a@example.com\"}", "name"),
        (#"{"name":"A","email":"a@example.com","role":"admin"}"#, "role"),
        (#"{"name":"A","email":"a@example.com","id":"cus_mine"}"#, "id"),
        (#"{"name":"A"}"#, "email"),
    ])
    func badCreateBodiesAreRefusedNamingTheField(_ body: String, _ param: String) async throws {
        try await withServices { h in
            let admin = try await h.admin()
            try await h.api { api in
                let answer = try await api.post("/v1/customers", admin, body)
                #expect(answer.status == 400, "\(answer.text)")
                #expect(answer.param == param)
            }
            #expect(try await h.database.collection("customers", as: BSONDocument.self).count() == 0)
        }
    }

    /// The worker checks again (other services reach it without the gateway): 422 naming the field.
    @Test(arguments: [
        (JSONValue.object(["name": .string("A"), "email": .string("not-an-email")]), "email"),
        (.object(["name": .string(String(repeating: "x", count: 10_000)), "email": .string("a@example.com")]), "name"),
        (.object(["name": .string("A"), "email": .string("a@example.com"), "role": .string("admin")]), "role"),
        (.object(["name": .string("A"), "email": .string("a@example.com"), "id": .string("cus_mine")]), "id"),
        (.object(["name": .string("A"), "email": .string("a@example.com"), "user_id": .string("usr_1")]), "user_id"),
        (.object(["name": .object(["$gt": .string("")]), "email": .string("a@example.com")]), "name"),
        (.object(["name": .string("A"), "email": .string("a@example.com"), "metadata": .object(["$where": .string("1")])]), "metadata"),
        (.object(["email": .string("a@example.com")]), "name"),
    ])
    func theWorkerRefusesBadBodiesWith422(_ body: JSONValue, _ param: String) async throws {
        try await withServices { h in
            let admin = Principal(subject: "usr_admin", role: .admin, tenant: "t1")
            let reply = try await h.command("customer.create", to: CustomerService.name, principal: admin, payload: .object(["body": body]))
            #expect(reply.status == .failed)
            #expect(reply.error?.status == 422 && reply.error?.param == param, "\(String(describing: reply.error))")
            #expect(try await h.database.collection("customers", as: BSONDocument.self).count() == 0)
        }
    }

    @Test func operatorShapedTextIsStoredLiterallyNeverInterpreted() async throws {
        try await withServices { h in
            let admin = try await h.admin()
            try await h.api { api in
                let text = #"{"$gt": ""}"#
                let created = try await api.post(
                    "/v1/customers", admin, json(["name": text, "email": "op@example.com", "metadata": ["note": text]]))
                #expect(created.status == 201)
                let id = try #require(created.string("id"))
                let read = try await api.get("/v1/customers/\(id)", admin)
                #expect(read.string("name") == text)
                #expect((read["metadata"] as? [String: String])?["note"] == text)
                // A metadata key that MongoDB would read as an operator is refused by the worker.
                let key = try await api.patch("/v1/customers/\(id)", admin, json(["metadata": ["$set": "x"]]))
                #expect(key.status == 422 && key.param == "metadata")
                // Query parameters are compared as text: nothing matches, nothing leaks.
                let list = try await api.get("/v1/customers?email=%7B%22%24gt%22%3A%22%22%7D", admin)
                #expect(list.status == 400 && list.param == "email")
                let bracket = try await api.get("/v1/customers?email[$gt]=", admin)
                #expect(bracket.status == 400)
            }
            let stored = try await h.database.collection("customers", as: BSONDocument.self).find([:])
            #expect(stored.first?["name"] == .string(#"{"$gt": ""}"#))
        }
    }

    @Test func updateRefusesUnknownFieldsAndEmptyNames() async throws {
        try await withServices { h in
            let admin = try await h.admin()
            try await h.api { api in
                let id = try #require(try await api.post("/v1/customers", admin, json(["name": "U", "email": "u@example.com"])).string("id"))
                #expect(try await api.patch("/v1/customers/\(id)", admin, json(["status": "deleted"])).param == "status")
                #expect(try await api.patch("/v1/customers/\(id)", admin, json(["name": ""])).param == "name")
                #expect(try await api.patch("/v1/customers/\(id)", admin, json(["email": "nope"])).param == "email")
                #expect(try await api.get("/v1/customers/\(id)", admin).string("status") == "active")
            }
        }
    }

    /// The auth worker's signup: `customer.create` as role system with a pre-assigned id and the user id.
    @Test func signupFromTheAuthWorkerIsIdempotentAndKeepsTheUserID() async throws {
        try await withServices { h in
            let system = Principal(subject: "service:auth", role: .system, tenant: "t1")
            let id = "cus_0192f4a1b2c37d4e8f9a0b1c2d3e4f50"
            let body: JSONValue = .object([
                "id": .string(id), "name": .string("Grace"), "email": .string("grace@example.com"), "user_id": .string("usr_grace"),
            ])
            let first = try await h.command("customer.create", to: CustomerService.name, principal: system, payload: .object(["body": body]))
            #expect(first.httpStatus == 201 && first.result?["id"] == .string(id))
            // Its own retry with another command id: the existing customer, unchanged.
            let renamed: JSONValue = .object([
                "id": .string(id), "name": .string("Someone else"), "email": .string("grace@example.com"), "user_id": .string("usr_grace"),
            ])
            let again = try await h.command("customer.create", to: CustomerService.name, principal: system, payload: .object(["body": renamed]))
            #expect(again.httpStatus == 200 && again.result?["name"] == .string("Grace"))
            let stored = try #require(try await h.database.collection("customers", as: BSONDocument.self).findOne(["_id": .string(id)]))
            #expect(stored["user_id"] == .string("usr_grace"))
            // Another signup with the same email: 409 email_taken on `email`.
            let taken = try await h.command(
                "customer.create", to: CustomerService.name, principal: system,
                payload: .object(["body": .object([
                    "id": .string("cus_0192f4a1b2c37d4e8f9a0b1c2d3e4f51"), "name": .string("G2"), "email": .string("Grace@example.com"),
                ])]))
            #expect(taken.httpStatus == 409 && taken.error?.code == "email_taken" && taken.error?.param == "email")
            let created = try await h.outbox().filter { $0["type"] == "customer.created" }
            #expect(created.count == 1)
            #expect(created.first?["envelope"]?.stringValue?.contains("usr_grace") == true)
            // The user's token carries customer_id: it reads its customer as "me".
            try await h.api { api in
                let me = try await api.get("/v1/customers/me", try await h.customer(id))
                #expect(me.string("email") == "grace@example.com")
            }
        }
    }
}
