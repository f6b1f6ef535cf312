import CustomerService
import Foundation
import MessageBus
import Mongo
import PlanService
import Testing

/// schemas/commands and schemas/events are the contract with other services: they must match what
/// the workers accept and emit.
@Suite("Customer and plan schemas")
struct ServiceSchemaTests {
    static let schemas = ServiceHarness.repository.appendingPathComponent("schemas")

    func schema(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Self.schemas.appendingPathComponent(path))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(path)")
    }

    @Test func everyCommandTypeHasASchemaAndEverySchemaAHandler() throws {
        let types = CustomerService.registry().types + PlanService.registry().types
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.schemas.appendingPathComponent("commands").path)
            .filter { $0.hasPrefix("customer.") || $0.hasPrefix("plan.") }.map { String($0.dropLast(".json".count)) }
        #expect(Set(types) == Set(files))
        for type in types {
            let schema = try schema("commands/\(type).json")
            #expect(schema["title"] as? String == type)
            #expect((schema["properties"] as? [String: Any])?.keys.sorted() == ["body", "path", "query"])
        }
    }

    @Test func emittedEventsMatchTheirSchemas() async throws {
        try await withServices { h in
            let admin = try await h.admin()
            try await h.api { api in
                let id = try #require(try await api.post("/v1/customers", admin, json(["name": "E", "email": "e@example.com"])).string("id"))
                _ = try await api.patch("/v1/customers/\(id)", admin, json(["name": "E2"]))
                _ = try await api.post("/v1/customers/\(id)/suspend", admin)
                _ = try await api.post("/v1/customers/\(id)/reactivate", admin)
                _ = try await api.delete("/v1/customers/\(id)", admin)
                let plan = try #require(try await api.post(
                    "/v1/plans", admin, json(["name": "P", "price": "1.00", "currency": "EUR", "interval": "year"])).string("id"))
                _ = try await api.patch("/v1/plans/\(plan)", admin, json(["features": ["a"]]))
                _ = try await api.post("/v1/plans/\(plan)/archive", admin)
            }
            var seen: Set<String> = []
            for entry in try await h.outbox() {
                let envelope = try MessageCoding.decode(Envelope.self, from: try #require(entry["envelope"]?.stringValue))
                seen.insert(envelope.type)
                let schema = try schema("events/\(envelope.type).json")
                let properties = Set(try #require(schema["properties"] as? [String: Any]).keys)
                let required = Set(schema["required"] as? [String] ?? [])
                guard case .object(let payload) = envelope.payload else {
                    Issue.record("\(envelope.type) payload is not an object")
                    continue
                }
                #expect(Set(payload.keys).isSubset(of: properties), "\(envelope.type): \(payload.keys.sorted())")
                #expect(required.isSubset(of: Set(payload.keys)), "\(envelope.type)")
            }
            #expect(seen == [
                "customer.created", "customer.updated", "customer.suspended", "customer.deleted", "plan.created",
                "plan.updated", "plan.archived",
            ])
        }
    }

    @Test func theMigratorAppliesValidatorsThatRefuseABadDocument() async throws {
        try await withServices { h in
            let plans = h.database.collection("plans", as: BSONDocument.self)
            do {
                try await plans.insertOne(["_id": "plan_x", "tenant_id": "t1", "name": "Bad", "price": 19.99])
                Issue.record("a plan with a double price and no currency was stored")
            } catch let error as MongoError {
                #expect(error.code == .validationFailed)
            }
            let names = try await h.database.collection("customers", as: BSONDocument.self).listIndexes()
                .compactMap { $0["name"]?.stringValue }
            #expect(names.contains("tenant_email"))
        }
    }
}
