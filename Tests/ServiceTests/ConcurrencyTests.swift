import CustomerService
import Foundation
import MessageBus
import WorkerRuntime
import Mongo
import Testing

/// The processor driven directly, to control batches and concurrency exactly.
@Suite("Customers: batches and concurrent writes")
struct ConcurrencyTests {
    static let admin = Principal(subject: "usr_admin", role: .admin, tenant: "t1")

    func processor(_ h: ServiceHarness) -> CommandProcessor {
        CommandProcessor(
            group: CustomerService.name, registry: CustomerService.registry(.init(names: h.names)), database: h.database,
            redis: h.redis)
    }

    func envelope(_ type: String, _ payload: JSONValue) -> Envelope {
        Envelope(type: type, principal: Self.admin, payload: payload, createdAt: Date())
    }

    /// An update and the erasure of the same customer in one batch transaction: the update's ledger
    /// entry (with the new email in its reply) is written only after both handlers ran, so erasure
    /// splits the batch, and the stored reply is redacted when each runs on its own.
    @Test func erasureInTheSameBatchAsAnUpdateStillLeavesNoPersonalData() async throws {
        try await withServices { h in
            let processor = processor(h)
            let created = await processor.process([
                envelope("customer.create", .object(["body": .object(["name": "Batchy McBatch", "email": "batchy@example.com"])]))
            ])
            let id = try #require(try created[0].get().reply.result?["id"]?.stringValue)
            let results = await processor.process([
                envelope("customer.update", .object(["path": .object(["id": .string(id)]), "body": .object(["email": "batchy.new@example.com"])])),
                envelope("customer.delete", .object(["path": .object(["id": .string(id)])])),
            ])
            #expect(try results[0].get().reply.httpStatus == 200)
            #expect(try results[1].get().reply.result?["status"] == "deleted")
            for (collection, text) in try await h.everyDocument() {
                for value in ["batchy", "Batchy McBatch"] {
                    #expect(!text.lowercased().contains(value.lowercased()), "\(collection) still holds \(value)")
                }
            }
        }
    }

    /// Ten updates of one customer from ten concurrent transactions: each lands (write conflicts and
    /// the version check make the losers rerun on fresh data), none overwrites another.
    @Test func concurrentUpdatesOfOneCustomerLoseNothing() async throws {
        try await withServices { h in
            let processor = processor(h)
            let created = await processor.process([
                envelope("customer.create", .object(["body": .object(["name": "Racy", "email": "racy@example.com"])]))
            ])
            let id = try #require(try created[0].get().reply.result?["id"]?.stringValue)
            try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<10 {
                    let update = envelope(
                        "customer.update",
                        .object(["path": .object(["id": .string(id)]), "body": .object(["metadata": .object(["k\(i)": "v"])])]))
                    group.addTask { try await processor.process([update])[0].get().reply.httpStatus }
                }
                for try await status in group { #expect(status == 200) }
            }
            let stored = try #require(try await h.database.collection("customers", as: BSONDocument.self).findOne(["_id": .string(id)]))
            #expect(stored["metadata"]?.documentValue?.count == 10)
            #expect(stored["version"]?.intValue == 11)
        }
    }
}
