import Foundation
import Logging
import Mongo
import Synchronization
import Testing

@Suite("MongoClient against the MongoDB-protocol server")
struct MongoClientTests {
    @Test("ping, insertOne and find with filter, sort, limit and projection")
    func insertAndFind() async throws {
        try await MongoTestEnvironment.withDatabase { client, db in
            try await client.ping()
            let customers = db.collection("customers", as: TestCustomer.self)
            for n in [3, 1, 4, 5, 2] {
                let id = try await customers.insertOne(.make(n))
                #expect(id == .string(TestCustomer.make(n).id))
            }
            try await customers.insertOne(.make(9, tenant: "ten_2"))

            let firstThree = try await customers.find(
                ["tenant_id": "ten_1"], options: FindOptions(sort: ["created_at": -1], limit: 3))
            #expect(firstThree.map(\.id) == ["cus_0005", "cus_0004", "cus_0003"])
            #expect(firstThree.first == .make(5), "every field, Decimal and millisecond Date included, round-trips")

            let page = try await customers.find(["tenant_id": "ten_1"], options: FindOptions(sort: ["_id": 1], skip: 1, batchSize: 2))
            #expect(page.map(\.id) == ["cus_0002", "cus_0003", "cus_0004", "cus_0005"])

            let projected = try await customers.findDocuments(
                ["balance": ["$gte": .decimal128(Decimal(string: "3.99")!)]],
                options: FindOptions(sort: ["_id": 1], projection: ["email": 1, "_id": 0]))
            #expect(projected == [["email": "user3@example.com"], ["email": "user4@example.com"],
                                  ["email": "user5@example.com"], ["email": "user9@example.com"]])

            let one = try await customers.findOne(["email": "user2@example.com"])
            #expect(one == .make(2))
            #expect(try await customers.findOne(["email": "nobody@example.com"]) == nil)

            let generated = try await db.collection("events", as: TestCounter.self).findOne([:])
            #expect(generated == nil)
        }
    }

    @Test("insertOne without an _id gets a generated ObjectId")
    func generatedID() async throws {
        struct Note: Codable, Sendable, Equatable { var text: String }
        try await MongoTestEnvironment.withDatabase { _, db in
            let notes = db.collection("notes", as: Note.self)
            let id = try await notes.insertOne(Note(text: "hi"))
            #expect(id.objectIDValue != nil)
            let stored = try await notes.findDocuments(["_id": id])
            #expect(stored.first?["text"] == "hi")
        }
    }

    @Test("insertIfAbsent inserts once per _id, in a transaction, and keeps the first document")
    func insertIfAbsent() async throws {
        try await MongoTestEnvironment.withDatabase { _, db in
            let first = try await db.withTransaction { txn in
                try txn.collection("customers", as: TestCustomer.self).insertIfAbsent(.make(1))
            }
            #expect(first)
            let changed = { var customer = TestCustomer.make(1); customer.email = "changed@example.com"; return customer }()
            let again = try await db.withTransaction { txn in
                try txn.collection("customers", as: TestCustomer.self).insertIfAbsent(changed)
            }
            #expect(!again, "a second document with the same _id is not inserted and aborts nothing")
            let stored = try await db.collection("customers", as: TestCustomer.self).find([:])
            #expect(stored == [.make(1)])
        }
    }

    @Test("count with and without a filter")
    func count() async throws {
        try await MongoTestEnvironment.withDatabase { _, db in
            let customers = db.collection("customers", as: TestCustomer.self)
            #expect(try await customers.count() == 0)
            try await customers.insertMany((1...7).map { TestCustomer.make($0, status: $0 <= 2 ? "suspended" : "active") })
            #expect(try await customers.count() == 7)
            #expect(try await customers.count(["status": "suspended"]) == 2)
            #expect(try await customers.count(["status": "active"], limit: 3) == 3)
        }
    }

    @Test("aggregate groups and sums Decimal128 exactly")
    func aggregate() async throws {
        try await MongoTestEnvironment.withDatabase { _, db in
            let customers = db.collection("customers", as: TestCustomer.self)
            try await customers.insertMany((1...6).map { TestCustomer.make($0, tenant: $0 <= 4 ? "ten_a" : "ten_b") })
            let totals = try await customers.aggregate([
                ["$match": ["status": "active"]],
                ["$group": ["_id": "$tenant_id", "total": ["$sum": "$balance"], "n": ["$sum": 1]]],
                ["$sort": ["_id": 1]],
            ])
            #expect(totals.count == 2)
            #expect(totals.first?["_id"] == "ten_a")
            #expect(totals.first?["total"] == .decimal128(Decimal(string: "13.96")!))  // 1.99+2.99+3.99+4.99
            #expect(totals.first?["n"]?.intValue == 4)
            #expect(totals.last?["total"] == .decimal128(Decimal(string: "12.98")!))  // 5.99+6.99
        }
    }

    @Test("findOneAndUpdate returns the new document, the old one, or upserts")
    func findOneAndUpdate() async throws {
        try await MongoTestEnvironment.withDatabase { _, db in
            let counters = db.collection("counters", as: TestCounter.self)
            let created = try await counters.findOneAndUpdate(
                ["_id": "invoice_number"], update: ["$inc": ["value": 1]], returnNew: true, upsert: true)
            #expect(created == TestCounter(id: "invoice_number", value: 1))

            let next = try await counters.findOneAndUpdate(["_id": "invoice_number"], update: ["$inc": ["value": 1]])
            #expect(next?.value == 2)

            let before = try await counters.findOneAndUpdate(
                ["_id": "invoice_number"], update: ["$inc": ["value": 10]], returnNew: false)
            #expect(before?.value == 2)
            #expect(try await counters.findOne(["_id": "invoice_number"])?.value == 12)

            let missing = try await counters.findOneAndUpdate(["_id": "absent"], update: ["$inc": ["value": 1]])
            #expect(missing == nil)
            #expect(try await counters.count() == 1, "no upsert unless asked")
        }
    }

    @Test("conditional updateOne on a version filter reports whether it matched")
    func conditionalUpdate() async throws {
        try await MongoTestEnvironment.withDatabase { _, db in
            let customers = db.collection("customers", as: TestCustomer.self)
            try await customers.insertOne(.make(1))

            let applied = try await customers.updateOne(
                ["_id": "cus_0001", "version": 1], update: ["$set": ["status": "suspended"], "$inc": ["version": 1]])
            #expect(applied.matched)
            #expect(applied.matchedCount == 1)
            #expect(applied.modifiedCount == 1)
            #expect(applied.upsertedID == nil)

            let stale = try await customers.updateOne(
                ["_id": "cus_0001", "version": 1], update: ["$set": ["status": "deleted"], "$inc": ["version": 1]])
            #expect(!stale.matched, "a stale version must not overwrite")
            #expect(stale.modifiedCount == 0)
            let stored = try await customers.findOne(["_id": "cus_0001"])
            #expect(stored?.status == "suspended")
            #expect(stored?.version == 2)

            var fields = try BSONEncoder().encode(TestCustomer.make(2))
            fields["_id"] = nil  // comes from the filter
            let upserted = try await customers.updateOne(
                ["_id": "cus_0002"], update: ["$setOnInsert": .document(fields)], upsert: true)
            #expect(upserted.upsertedID == "cus_0002")
            #expect(try await customers.findOne(["_id": "cus_0002"]) == .make(2))

            let many = try await customers.updateMany(["tenant_id": "ten_1"], update: ["$set": ["note": "bulk"]])
            #expect(many.matchedCount == 2)
            let replaced = try await customers.replaceOne(["_id": "cus_0002"], replacement: .make(2, status: "deleted"))
            #expect(replaced.modifiedCount == 1)
            #expect(try await customers.findOne(["_id": "cus_0002"])?.status == "deleted")
        }
    }

    @Test("deleteOne and deleteMany return how many they removed")
    func delete() async throws {
        try await MongoTestEnvironment.withDatabase { _, db in
            let customers = db.collection("customers", as: TestCustomer.self)
            try await customers.insertMany((1...5).map { TestCustomer.make($0) })
            #expect(try await customers.deleteOne(["_id": "cus_0001"]) == 1)
            #expect(try await customers.deleteOne(["_id": "cus_0001"]) == 0)
            #expect(try await customers.deleteMany(["_id": ["$in": ["cus_0002", "cus_0003"]]]) == 2)
            #expect(try await customers.count() == 2)
        }
    }

    @Test("a unique index turns a second insert into duplicateKey naming the index")
    func duplicateKey() async throws {
        try await MongoTestEnvironment.withDatabase { _, db in
            let customers = db.collection("customers", as: TestCustomer.self)
            let names = try await customers.createIndexes([
                IndexModel(keys: ["tenant_id": 1, "email": 1], name: "tenant_email_unique", unique: true)
            ])
            #expect(names == ["tenant_email_unique"])
            try await customers.insertOne(.make(1))
            var clash = TestCustomer.make(2)
            clash.email = TestCustomer.make(1).email
            do {
                try await customers.insertOne(clash)
                Issue.record("the duplicate was accepted")
            } catch let error as MongoError {
                #expect(error.code == .duplicateKey)
                #expect(error.serverCode == 11000)
                #expect(error.indexName == "tenant_email_unique")
            }
            clash.tenantID = "ten_2"
            try await customers.insertOne(clash)  // unique per tenant only
            #expect(try await customers.count() == 2)
        }
    }

    @Test("TTL and partial indexes are created as specified")
    func ttlAndPartialIndexes() async throws {
        try await MongoTestEnvironment.withDatabase { _, db in
            let tokens = db.collection("refresh_tokens", as: TestCustomer.self)
            try await tokens.createIndexes([
                IndexModel(keys: ["created_at": 1], name: "expire_created_at", expireAfterSeconds: 3600),
                IndexModel(
                    keys: ["email": 1], name: "active_email", unique: true,
                    partialFilterExpression: ["status": "active"]),
            ])
            // Creating the same indexes again is a no-op, not an error.
            try await tokens.createIndexes([IndexModel(keys: ["created_at": 1], name: "expire_created_at", expireAfterSeconds: 3600)])
            let indexes = try await tokens.listIndexes()
            let byName = Dictionary(uniqueKeysWithValues: indexes.compactMap { spec in spec["name"]?.stringValue.map { ($0, spec) } })
            #expect(Set(byName.keys) == ["_id_", "expire_created_at", "active_email"])
            #expect(byName["expire_created_at"]?["expireAfterSeconds"]?.intValue == 3600)
            #expect(byName["expire_created_at"]?["key"] == ["created_at": 1])
            #expect(byName["active_email"]?["unique"] == true)
            #expect(byName["active_email"]?["partialFilterExpression"] == ["status": "active"])

            // The partial unique index only applies to active documents.
            try await tokens.insertOne(.make(1, status: "deleted"))
            var again = TestCustomer.make(2, status: "deleted")
            again.email = TestCustomer.make(1).email
            try await tokens.insertOne(again)
            try await tokens.insertOne(.make(3))
            var clash = TestCustomer.make(4)
            clash.email = TestCustomer.make(3).email
            await #expect(throws: MongoError.self) { try await tokens.insertOne(clash) }
        }
    }

    @Test("a $jsonSchema validator rejects a bad document with validationFailed")
    func validator() async throws {
        try await MongoTestEnvironment.withDatabase { _, db in
            let schema: BSONDocument = [
                "$jsonSchema": [
                    "bsonType": "object",
                    "required": ["_id", "tenant_id", "email", "balance"],
                    "properties": [
                        "email": ["bsonType": "string", "pattern": "^.+@.+$"],
                        "balance": ["bsonType": "decimal"],
                        "version": ["bsonType": ["int", "long"], "minimum": 1],
                    ],
                ]
            ]
            try await db.createCollection("customers", validator: schema, validationLevel: .strict, validationAction: .error)
            // Creating it again (e.g. a re-run migration) applies the validator with collMod instead of failing.
            try await db.createCollection("customers", validator: schema, validationLevel: .strict)
            #expect(try await db.listCollectionNames().contains("customers"))

            let customers = db.collection("customers", as: TestCustomer.self)
            try await customers.insertOne(.make(1))
            var bad = TestCustomer.make(2)
            bad.email = "not-an-email"
            do {
                try await customers.insertOne(bad)
                Issue.record("the validator accepted an invalid email")
            } catch let error as MongoError {
                #expect(error.code == .validationFailed)
                #expect(error.serverCode == 121)
            }
            let raw = db.collection("customers", as: BSONDocument.self)
            await #expect(throws: MongoError.self) {
                try await raw.insertOne(["_id": "x", "tenant_id": "t", "email": "a@b", "balance": 1.5])
            }
            #expect(try await customers.count() == 1)
        }
    }

    @Test("a committed transaction's writes to two collections are visible")
    func transactionCommits() async throws {
        try await MongoTestEnvironment.withDatabase { _, db in
            // Collections are created outside the transaction, as MongoDB requires for older servers.
            try await db.createCollection("customers")
            try await db.createCollection("counters")
            try await db.collection("counters", as: TestCounter.self).insertOne(TestCounter(id: "customers", value: 0))

            let number = try await db.withTransaction { txn in
                let counters = txn.collection("counters", as: TestCounter.self)
                let customers = txn.collection("customers", as: TestCustomer.self)
                let counter = try counters.findOneAndUpdate(["_id": "customers"], update: ["$inc": ["value": 1]])
                let n = counter?.value ?? 0
                try customers.insertOne(.make(n))
                try customers.insertMany([.make(n + 100), .make(n + 101)])
                #expect(try customers.count() == 3, "the transaction sees its own writes")
                #expect(try customers.findOne(["_id": "cus_0001"]) != nil)
                #expect(try customers.find([:], options: FindOptions(sort: ["_id": 1])).count == 3)
                #expect(try customers.updateOne(["_id": "cus_0101"], update: ["$set": ["note": "x"]]).matched)
                #expect(try customers.deleteOne(["_id": "cus_0102"]) == 1)
                return n
            }
            #expect(number == 1)
            let customers = db.collection("customers", as: TestCustomer.self)
            #expect(try await customers.find([:], options: FindOptions(sort: ["_id": 1])).map(\.id) == ["cus_0001", "cus_0101"])
            #expect(try await customers.findOne(["_id": "cus_0101"])?.note == "x")
            #expect(try await db.collection("counters", as: TestCounter.self).findOne(["_id": "customers"])?.value == 1)
        }
    }

    struct HandlerRejected: Error, Equatable { let reason: String }

    @Test("a transaction whose body throws leaves nothing written and rethrows the body's error")
    func transactionRollsBack() async throws {
        try await MongoTestEnvironment.withDatabase { _, db in
            try await db.createCollection("customers")
            try await db.createCollection("counters")
            try await db.collection("counters", as: TestCounter.self).insertOne(TestCounter(id: "customers", value: 0))
            do {
                _ = try await db.withTransaction { txn in
                    _ = try txn.collection("counters", as: TestCounter.self)
                        .findOneAndUpdate(["_id": "customers"], update: ["$inc": ["value": 1]])
                    try txn.collection("customers", as: TestCustomer.self).insertMany([.make(1), .make(2)])
                    throw HandlerRejected(reason: "plan is inactive")
                }
                Issue.record("the transaction did not throw")
            } catch let error as HandlerRejected {
                #expect(error == HandlerRejected(reason: "plan is inactive"))
            }
            #expect(try await db.collection("customers", as: TestCustomer.self).count() == 0)
            #expect(try await db.collection("counters", as: TestCounter.self).findOne(["_id": "customers"])?.value == 0)

            // A server error inside the body aborts the same way and surfaces as a MongoError.
            try await db.collection("customers", as: TestCustomer.self).insertOne(.make(1))
            do {
                _ = try await db.withTransaction { txn in
                    let customers = txn.collection("customers", as: TestCustomer.self)
                    try customers.insertOne(.make(2))
                    try customers.insertOne(.make(1))  // duplicate _id
                }
                Issue.record("the duplicate inside the transaction was accepted")
            } catch let error as MongoError {
                #expect(error.code == .duplicateKey)
            }
            #expect(try await db.collection("customers", as: TestCustomer.self).count() == 1)
        }
    }

    @Test("concurrent transactions on one document all commit (write conflicts are retried)")
    func concurrentTransactions() async throws {
        try await MongoTestEnvironment.withDatabase(poolSize: 4) { _, db in
            try await db.createCollection("counters")
            try await db.createCollection("ledger")
            try await db.collection("counters", as: TestCounter.self).insertOne(TestCounter(id: "c", value: 0))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<8 {
                    group.addTask {
                        try await db.withTransaction { txn in
                            _ = try txn.collection("counters", as: TestCounter.self)
                                .findOneAndUpdate(["_id": "c"], update: ["$inc": ["value": 1]])
                            try txn.collection("ledger", as: TestCounter.self).insertOne(TestCounter(id: "entry_\(i)", value: i))
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await db.collection("counters", as: TestCounter.self).findOne(["_id": "c"])?.value == 8)
            #expect(try await db.collection("ledger", as: TestCounter.self).count() == 8)
        }
    }

    final class Attempts: Sendable {
        let first = Atomic<Int>(0)
        let second = Atomic<Int>(0)
        let firstWrote = Atomic<Bool>(false)
        let sawWriteConflict = Atomic<Bool>(false)
    }

    @Test("a transaction that hits a write conflict is retried and then commits")
    func writeConflictRetried() async throws {
        try await MongoTestEnvironment.withDatabase(poolSize: 2) { _, db in
            try await db.createCollection("counters")
            try await db.collection("counters", as: TestCounter.self).insertOne(TestCounter(id: "c", value: 0))
            let attempts = Attempts()
            async let first: Void = db.withTransaction { txn in
                attempts.first.add(1, ordering: .relaxed)
                try txn.collection("counters", as: TestCounter.self).updateOne(["_id": "c"], update: ["$inc": ["value": 1]])
                attempts.firstWrote.store(true, ordering: .relaxed)
                // Hold the document until the second transaction has met the conflict (however slow the
                // machine), for at most 10 s.
                let until = Date().addingTimeInterval(10)
                while !attempts.sawWriteConflict.load(ordering: .relaxed), Date() < until {
                    Thread.sleep(forTimeInterval: 0.01)
                }
            }
            while !attempts.firstWrote.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(5)) }
            try await db.withTransaction { txn in
                attempts.second.add(1, ordering: .relaxed)
                do {
                    try txn.collection("counters", as: TestCounter.self).updateOne(["_id": "c"], update: ["$inc": ["value": 10]])
                } catch let error as MongoError {
                    if error.code == .writeConflict && error.isTransientTransactionError {
                        attempts.sawWriteConflict.store(true, ordering: .relaxed)
                    }
                    throw error
                }
            }
            try await first
            #expect(try await db.collection("counters", as: TestCounter.self).findOne(["_id": "c"])?.value == 11)
            let firstRuns = attempts.first.load(ordering: .relaxed)
            let secondRuns = attempts.second.load(ordering: .relaxed)
            let sawConflict = attempts.sawWriteConflict.load(ordering: .relaxed)
            #expect(firstRuns == 1)
            #expect(secondRuns > 1, "the conflicting transaction was retried")
            #expect(sawConflict, "the conflict surfaced as .writeConflict with TransientTransactionError")
        }
    }

    @Test("unordered insertMany with one duplicate inserts the rest and reports the failed index")
    func insertManyPartialFailure() async throws {
        try await MongoTestEnvironment.withDatabase { _, db in
            let customers = db.collection("customers", as: TestCustomer.self)
            try await customers.insertOne(.make(3))
            let batch = (1...6).map { TestCustomer.make($0) }  // index 2 is cus_0003, already there
            do {
                try await customers.insertMany(batch)
                Issue.record("the duplicate was accepted")
            } catch let error as MongoError {
                #expect(error.code == .duplicateKey)
                #expect(error.insertedCount == 5)
                #expect(error.writeErrors.map(\.index) == [2])
                #expect(error.writeErrors.first?.serverCode == 11000)
                #expect(error.message.contains("[2]"))
            }
            #expect(try await customers.count() == 6)
            #expect(try await customers.insertMany([]) == 0)
            #expect(try await customers.insertMany([.make(7), .make(8)]) == 2)
        }
    }

    @Test("an unreachable server fails fast with network or timeout")
    func unreachableServer() async throws {
        _ = try MongoTestEnvironment.url()  // this test too only runs where the real server is configured
        let port = try MongoTestEnvironment.closedPort()
        let client = try MongoClient(
            url: "mongodb://127.0.0.1:\(port)/billing_test", poolSize: 1, serverSelectionTimeout: .milliseconds(500),
            connectTimeout: .milliseconds(500), logger: Logger(label: "mongo-test"))
        let clock = ContinuousClock()
        let start = clock.now
        do {
            try await client.ping()
            Issue.record("ping to a closed port succeeded")
        } catch let error as MongoError {
            #expect([MongoError.Code.network, .timeout].contains(error.code), "got \(error)")
        }
        let elapsed = clock.now - start
        // Bounded by the 500 ms timeouts, not a hang; the margin is for a loaded machine (a bound, not a speed measurement).
        #expect(elapsed < .seconds(30), "took \(elapsed)")
        try await client.shutdown()
    }

    @Test("200 concurrent inserts through a small pool all land")
    func concurrentInserts() async throws {
        try await MongoTestEnvironment.withDatabase(poolSize: 4) { _, db in
            let customers = db.collection("customers", as: TestCustomer.self)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 0..<200 {
                    group.addTask { try await customers.insertOne(.make(n)) }
                }
                try await group.waitForAll()
            }
            #expect(try await customers.count() == 200)
            let all = try await customers.find([:], options: FindOptions(sort: ["_id": 1]))
            #expect(all.count == 200)
            #expect(all.last == .make(199))
        }
    }

    @Test("withConnection runs several calls in one hop; runCommand returns the reply")
    func withConnection() async throws {
        try await MongoTestEnvironment.withDatabase { _, db in
            let count = try await db.withConnection { conn in
                let customers = conn.collection("customers", as: TestCustomer.self)
                try customers.insertMany([.make(1), .make(2)])
                try customers.updateOne(["_id": "cus_0001"], update: ["$set": ["name": "Renamed"]])
                return try customers.count()
            }
            #expect(count == 2)
            let reply = try await db.runCommand(["ping": 1])
            #expect(reply["ok"]?.intValue == 1 || reply["ok"] == .double(1))
        }
    }

    @Test("a stored document that does not fit the type fails with decoding naming the field")
    func decodingError() async throws {
        try await MongoTestEnvironment.withDatabase { _, db in
            var raw = try BSONEncoder().encode(TestCustomer.make(1))
            raw["balance"] = "lots"
            try await db.collection("customers", as: BSONDocument.self).insertOne(raw)
            do {
                _ = try await db.collection("customers", as: TestCustomer.self).find()
                Issue.record("a string decoded as Decimal")
            } catch let error as MongoError {
                #expect(error.code == .decoding)
                #expect(error.fieldPath == "balance")
                #expect(error.message.contains("balance"))
            }
        }
    }

    @Test("after shutdown every operation fails with shutdown")
    func shutdown() async throws {
        let client = try MongoTestEnvironment.makeClient(poolSize: 2)
        try await client.ping()
        try await client.shutdown()
        try await client.shutdown()  // idempotent
        do {
            try await client.ping()
            Issue.record("ping after shutdown succeeded")
        } catch let error as MongoError {
            #expect(error.code == .shutdown)
        }
    }
}
