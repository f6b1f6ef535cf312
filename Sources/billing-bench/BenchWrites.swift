import ArgumentParser
import AsyncHTTPClient
import BillingCLI
import Foundation
import Gateway
import Logging
import MessageBus
import Mongo
import NIOCore
import Redis
import Runtime
import Synchronization
import WorkerRuntime

/// `billing-bench writes`: real writes through the whole system (wrk → gateway → stream → worker →
/// one MongoDB transaction → reply), `customer.create` and `subscription.create` (`pm_card_visa`),
/// beside the same reads and writes as one raw transaction of a bare client in the same run; then
/// backlogs of asynchronous creates accepted with the workers stopped and drained when they start.
struct BenchWrites: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "writes",
        abstract: "customer.create and subscription.create through the gateway beside the raw transaction; backlog drains.")

    @Option(help: "Seconds per wrk run.") var seconds: Int = 10
    @Option(help: "Concurrent callers of the loaded runs.") var callers: Int = 16
    @Option(parsing: .upToNextOption, help: "Backlog sizes of asynchronous creates to drain (0 skips).")
    var backlogs: [Int] = [3_000, 50_000]
    @Option(help: "Path of wrk.") var wrk: String = "/usr/bin/wrk"
    @Flag(help: "Record a perf profile of the customer worker during the 16-caller create run.") var profile = false

    func run() async throws {
        let settings = try await loadSettings()
        let logger = Logger(label: "bench")
        let prefix = "benchwr\(UUID().uuidString.prefix(6).lowercased())"
        let work = FileManager.default.temporaryDirectory.appendingPathComponent(prefix)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let wrk = Wrk(path: self.wrk, seconds: seconds)

        var environment = ProcessInfo.processInfo.environment
        environment["BILLING_STREAM_PREFIX"] = prefix
        environment["BILLING_RATE_LIMIT_PRINCIPAL"] = "1000000"
        environment["BILLING_RATE_LIMIT_IP"] = "1000000"
        environment["BILLING_LOG_LEVEL"] = "info"
        let processes = BenchProcesses(work: work, environment: environment)
        var finished = false
        defer {
            processes.stopAll()
            // The processes' logs stay for a look when the run failed.
            if finished { try? FileManager.default.removeItem(at: work) } else { print("logs kept in \(work.path)") }
        }

        // The system's database and a second one for the raw transactions, both migrated (the same
        // validators and indexes).
        let rawDatabaseName = "\(MongoURL.databaseName(settings.mongoURL) ?? "billing")_raw"
        try processes.runToEnd(["migrate"])
        var rawEnvironment = environment
        rawEnvironment["BILLING_MONGO_URL"] = Self.url(settings.mongoURL, database: rawDatabaseName)
        try BenchProcesses(work: work, environment: rawEnvironment).runToEnd(["migrate"])

        var benchSettings = settings
        benchSettings.streamPrefix = prefix
        let infrastructure = try await Infrastructure.connect(settings: benchSettings, logger: logger)
        let redis = infrastructure.redis
        let database = infrastructure.mongo.database(infrastructure.databaseName)
        let rawDatabase = infrastructure.mongo.database(rawDatabaseName)
        let names = StreamNames(prefix: prefix)

        // An admin API key as the auth service publishes one.
        var gatewayConfiguration = GatewayConfiguration()
        gatewayConfiguration.names = names
        let apiKey = "sk_test_bench\(UUID().uuidString.replacingOccurrences(of: "-", with: ""))"
        _ = try await redis.send(
            SET(
                Authenticator(redis: redis, configuration: gatewayConfiguration).apiKeyKey(apiKey),
                value: RedisArgument(#"{"subject":"key_bench","role":"admin","scopes":[],"tenant":"default"}"#)))
        let headers = ["Authorization": "Bearer \(apiKey)"]

        // The whole system as a user runs it (`billing all`: gateway, every worker, scheduler).
        let base = "http://127.0.0.1:\(settings.httpPort)"
        let all = try processes.spawn(["all"])
        try await waitUntilReady(base + "/readyz", checks: ["redis", "replies", "consumers:customer", "consumers:subscription"])

        // A plan, a customer with pm_card_visa, and a few of each command to copy the raw
        // transactions' documents from (same sizes, same validators).
        let client = BenchHTTP(base: base, headers: headers)
        let plan = try client.post("/v1/plans", #"{"name":"Pro","price":"19.99","currency":"USD","interval":"month"}"#)
        let customer = try client.post("/v1/customers", #"{"name":"Bench Subscriber","email":"subscriber@example.com"}"#)
        let method = try client.post(
            "/v1/payment-methods", #"{"customer_id":"\#(customer)","type":"card","token":"pm_card_visa"}"#)
        let subscriptionBody = #"{"customer_id":"\#(customer)","plan_id":"\#(plan)","default_payment_method":"\#(method)"}"#
        for i in 0..<5 {
            _ = try client.post("/v1/customers", #"{"name":"Bench Customer","email":"template\#(i)@example.com"}"#)
            _ = try client.post("/v1/subscriptions", subscriptionBody)
        }
        let templates = try await RawTemplates.read(database, redis: redis, names: names, customer: customer, plan: plan, method: method)
        try await templates.seed(rawDatabase)

        // CPU per request of each process of a run: where its time went.
        let mongoPort = URLComponents(string: settings.mongoURL)?.port ?? 27017
        let redisPort = URLComponents(string: settings.redisURL)?.port ?? 6379
        let servers = [
            ("SecantusDB", processID(matching: "secantusd-py.*--port \(mongoPort)")),
            ("Redis", processID(matching: "redis-server 127.0.0.1:\(redisPort)")),
        ].compactMap { name, pid in pid.map { (name: name, pid: $0) } }
        var cpu: [String: String] = [:]
        func metered<R>(_ label: String, _ meter: CPUMeter, requests: (R) -> Int, _ body: () async throws -> R) async rethrows -> R {
            let before = meter.sample()
            let result = try await body()
            cpu[label] = meter.perRequest(since: before, requests: requests(result))
            return result
        }

        // The raw transactions: one caller, then `callers`.
        let raw = RawWrites(database: rawDatabase, templates: templates)
        let rawMeter = CPUMeter(processes: [("bench (raw client)", getpid())] + servers)
        let rawCustomer1 = try await metered("rc1", rawMeter, requests: { _ in 300 }) {
            try await measure(total: 300, concurrency: 1) { i in try await raw.customerCreate("a\(i)") }
        }
        let rawCustomerN = try await metered("rcN", rawMeter, requests: { _ in 3_000 }) {
            try await measure(total: 3_000, concurrency: callers) { i in try await raw.customerCreate("b\(i)") }
        }
        let rawSubscription1 = try await metered("rs1", rawMeter, requests: { _ in 300 }) {
            try await measure(total: 300, concurrency: 1) { _ in try await raw.subscriptionCreate() }
        }
        let rawSubscriptionN = try await metered("rsN", rawMeter, requests: { _ in 1_000 }) {
            try await measure(total: 1_000, concurrency: callers) { _ in try await raw.subscriptionCreate() }
        }

        // The same through the gateway.
        let meter = CPUMeter(processes: [("billing all", all.processIdentifier)] + servers)
        let customer1 = try await metered("c1", meter, requests: { $0.total }) {
            try wrk.run(url: base + "/v1/customers", connections: 1, work: work, name: "cus1", script: Self.customerScript(headers: headers, tag: "one"))
        }
        let workerPerf = profile ? try Perf.start(pid: all.processIdentifier, seconds: max(1, seconds - 1), work: work, name: "create") : nil
        let customerN = try await metered("cN", meter, requests: { $0.total }) {
            try wrk.run(
                url: base + "/v1/customers", connections: callers, work: work, name: "cusN",
                script: Self.customerScript(headers: headers, tag: "many"))
        }
        let createProfile = try workerPerf.map { try Perf.stop($0, work: work, name: "create") }
        let subscriptionScript = Wrk.request(method: "POST", body: subscriptionBody, headers: headers)
        let subscription1 = try await metered("s1", meter, requests: { $0.total }) {
            try wrk.run(url: base + "/v1/subscriptions", connections: 1, work: work, name: "sub1", script: subscriptionScript)
        }
        let subscriptionN = try await metered("sN", meter, requests: { $0.total }) {
            try wrk.run(url: base + "/v1/subscriptions", connections: callers, work: work, name: "subN", script: subscriptionScript)
        }
        let (rss, _) = processMemory(of: all.processIdentifier)
        processes.stop(all)

        // Backlogs: the gateway alone accepts asynchronous creates; then the customer worker (and the
        // event consumers, as in `billing all`) starts and drains them.
        var drains: [(size: Int, accepted: Int, acceptRate: Double, seconds: Double, webhookEvents: Int, ledger: Int)] = []
        for size in backlogs where size > 0 {
            let gateway = try processes.spawn(["gateway"])
            try await waitUntilReady(base + "/readyz", checks: ["redis", "replies"])
            let before = try await database.collection("customers", as: BSONDocument.self).count(["tenant_id": "default"])
            let ledgerBefore = try await database.collection(MessagingStore.processed, as: BSONDocument.self).count()
            let eventsBefore = try await database.collection("events", as: BSONDocument.self).count()
            let stream = names.commands("customer")
            let entriesBefore = try await redis.send(XLEN(stream))
            let (accepted, acceptSeconds) = try await Self.sendBacklog(
                base: base, headers: headers, tag: "backlog\(size)", count: size, connections: 64)
            guard try await redis.send(XLEN(stream)) - entriesBefore == accepted else {
                throw ValidationError("the stream does not hold the \(accepted) accepted creates")
            }
            processes.stop(gateway)
            let started = ContinuousClock.now
            let workers = try processes.spawn(["worker", "customer", "webhook"])
            let drainMeter = CPUMeter(processes: [("workers", workers.processIdentifier)] + servers)
            let drainBefore = drainMeter.sample()
            var done = before
            while done < before + accepted {
                try await Task.sleep(for: .milliseconds(200))
                done = try await database.collection("customers", as: BSONDocument.self).count(["tenant_id": "default"])
                if ContinuousClock.now - started > .seconds(1_800) { throw ValidationError("the backlog of \(size) did not drain in 30 minutes") }
            }
            let elapsed = ContinuousClock.now - started
            cpu["drain\(size)"] = drainMeter.perRequest(since: drainBefore, requests: accepted)
            processes.stop(workers)
            let events = try await database.collection("events", as: BSONDocument.self).count() - eventsBefore
            let ledger = try await database.collection(MessagingStore.processed, as: BSONDocument.self).count() - ledgerBefore
            drains.append((size, accepted, Double(accepted) / max(acceptSeconds, 0.001), elapsed.seconds, events, ledger))
        }

        _ = try? await redis.deleteKeys(prefix: prefix + ":")
        try? await rawDatabase.drop()
        await infrastructure.shutdown()

        finished = true
        print("billing-bench writes: wrk \(seconds)s runs; `billing all` in one process (gateway, every worker, scheduler)")
        func cpuLine(_ key: String) { if let line = cpu[key] { print("      CPU per request: " + line) } }
        /// A command's four lines: raw and real at one caller (p50 difference), then at `callers` (rate ratio).
        func report(_ route: String, raw: (Measurement, Measurement), real: (WrkResult, WrkResult), keys: [String]) {
            print(raw.0.line("raw transaction, 1 caller"))
            cpuLine(keys[0])
            print(real.0.line("\(route), 1 caller") + String(format: "   p50 %+.2f ms vs raw (target ≤ +1.5)", real.0.p50 - raw.0.p50))
            cpuLine(keys[1])
            print(raw.1.line("raw transaction, \(callers) callers"))
            cpuLine(keys[2])
            print(real.1.line("\(route), \(callers) callers") + String(format: "   %.2fx raw (target ≥ 1.0)", real.1.rate / raw.1.rate))
            cpuLine(keys[3])
        }
        print("  customer.create (find by email + customer, personal-data note, ledger, outbox)")
        report("POST /v1/customers", raw: (rawCustomer1, rawCustomerN), real: (customer1, customerN), keys: ["rc1", "c1", "rcN", "cN"])
        print("  subscription.create, pm_card_visa (customer, plan, method ×2, balance, invoice number; payment, invoice, subscription, ledger, 4 events)")
        report(
            "POST /v1/subscriptions", raw: (rawSubscription1, rawSubscriptionN), real: (subscription1, subscriptionN),
            keys: ["rs1", "s1", "rsN", "sN"])
        print(String(format: "  `billing all` RSS after the runs %.1f MiB", rss))
        for drain in drains {
            let rate = Double(drain.accepted) / drain.seconds
            print(String(
                format: "  backlog of %d async creates (%d accepted at %.0f/s, workers stopped): drained in %.1f s, %.0f/s   %.2fx raw at %d callers (target ≥ 1.0)",
                drain.size, drain.accepted, drain.acceptRate, drain.seconds, rate, rate / rawCustomerN.rate, callers))
            print(String(
                format: "    per create: %.2f events stored by the webhook worker, %.2f ledger entries (commands and events)",
                Double(drain.webhookEvents) / Double(max(1, drain.accepted)), Double(drain.ledger) / Double(max(1, drain.accepted))))
            cpuLine("drain\(drain.size)")
        }
        if let createProfile {
            print("  perf profile of `billing all` during the \(callers)-caller customer.create run (self time, top symbols):")
            print(createProfile)
        }
    }

    /// A wrk script posting customers with unique emails (`tag`, the wrk thread, a counter).
    static func customerScript(headers: [String: String], tag: String) -> String {
        var lines = [#"wrk.method = "POST""#, #"wrk.headers["Content-Type"] = "application/json""#]
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { lines.append("wrk.headers[\"\(name)\"] = \"\(value)\"") }
        lines.append(
            """
            local threads = 0
            function setup(thread)
              threads = threads + 1
              thread:set("thread_tag", "t" .. threads)
            end
            local counter = 0
            request = function()
              counter = counter + 1
              return wrk.format(nil, nil, nil, '{"name":"Bench Customer","email":"\(tag)' .. thread_tag .. '_' .. counter .. '@example.com"}')
            end
            """)
        return lines.joined(separator: "\n") + "\n"
    }

    /// Posts `count` asynchronous customer creates (`Prefer: respond-async`, unique emails) from
    /// `connections` concurrent callers; answers how many were accepted (202) and the seconds taken.
    static func sendBacklog(base: String, headers: [String: String], tag: String, count: Int, connections: Int) async throws
        -> (accepted: Int, seconds: Double)
    {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        final class Ticket: Sendable { let next = Atomic<Int>(0) }
        let ticket = Ticket()
        let started = ContinuousClock.now
        let accepted: Int
        do {
            accepted = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<connections {
                    group.addTask {
                        var ok = 0
                        while true {
                            let i = ticket.next.wrappingAdd(1, ordering: .relaxed).oldValue
                            guard i < count else { return ok }
                            var request = HTTPClientRequest(url: base + "/v1/customers")
                            request.method = .POST
                            for (name, value) in headers { request.headers.add(name: name, value: value) }
                            request.headers.add(name: "Prefer", value: "respond-async")
                            request.headers.add(name: "Content-Type", value: "application/json")
                            request.body = .bytes(ByteBuffer(string: #"{"name":"Bench Customer","email":"\#(tag)_\#(i)@example.com"}"#))
                            let response = try await client.execute(request, timeout: .seconds(30))
                            _ = try await response.body.collect(upTo: 1 << 20)
                            if response.status == .accepted { ok += 1 }
                        }
                    }
                }
                return try await group.reduce(0, +)
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
        return (accepted, (ContinuousClock.now - started).seconds)
    }

    /// `url` with its database path replaced by `database`.
    static func url(_ url: String, database: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        components.path = "/" + database
        return components.string ?? url
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension Measurement {
    func line(_ label: String) -> String {
        let padded = label.padding(toLength: 34, withPad: " ", startingAt: 0)
        return String(format: "  %@ %9.0f /s   p50 %.2f ms  p99 %.2f ms", padded, rate, p50, p99)
    }
}

/// Synchronous JSON POSTs with curl for the set-up (a few requests): answers the created `id`.
struct BenchHTTP {
    var base: String
    var headers: [String: String]

    func post(_ path: String, _ body: String) throws -> String {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments =
            ["-s", "-X", "POST", base + path, "-H", "Content-Type: application/json", "-d", body]
            + headers.flatMap { ["-H", "\($0.key): \($0.value)"] }
        let output = Pipe()
        curl.standardOutput = output
        try curl.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        guard let id = JSONReader.value(Array(data))?["id"]?.stringValue else {
            throw ValidationError("POST \(path) answered \(String(decoding: data, as: UTF8.self))")
        }
        return id
    }
}

/// Documents the real commands wrote, copied by the raw transactions so they write the same sizes
/// through the same validators.
struct RawTemplates: Sendable {
    var customer: BSONDocument
    var customerLedger: BSONDocument
    var customerEvents: [BSONDocument]
    var subscriber: BSONDocument
    var plan: BSONDocument
    var method: BSONDocument
    var subscription: BSONDocument
    var invoice: BSONDocument
    var payment: BSONDocument
    var subscriptionLedger: BSONDocument
    var subscriptionEvents: [BSONDocument]

    static func read(
        _ database: MongoDatabase, redis: RedisClient, names: StreamNames, customer: String, plan: String, method: String
    ) async throws -> RawTemplates {
        func one(_ collection: String, _ filter: BSONDocument) async throws -> BSONDocument {
            guard let document = try await database.collection(collection, as: BSONDocument.self).findOne(filter) else {
                throw ValidationError("no \(collection) document matches \(filter)")
            }
            return document
        }
        // The outbox is emptied by the relay: its entries are the events' envelopes, read back from
        // the events stream.
        // Events reach the stream after their transaction's reply: wait for them a little.
        let wanted = ["customer.created", "invoice.created", "invoice.finalized", "invoice.paid", "subscription.created"]
        var envelopes: [String: String] = [:]
        for _ in 0..<50 where !wanted.allSatisfy({ envelopes[$0] != nil }) {
            for entry in try await redis.send(XRANGE(names.events, count: 1_000)) {
                guard let json = entry.fields[CommandBus.envelopeField], let type = entry.fields["type"] else { continue }
                envelopes[type] = json
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let eventCount = try await redis.send(XLEN(names.events))
        let outboxCount = try await database.collection(MessagingStore.outbox, as: BSONDocument.self).count()
        func events(_ types: [String]) throws -> [BSONDocument] {
            try types.map { type in
                guard let envelope = envelopes[type] else { throw ValidationError("no \(type) event on \(names.events) (it holds \(envelopes.keys.sorted()), \(eventCount) entries; \(outboxCount) in the outbox)") }
                return ["_id": .string(type), "type": .string(type), "envelope": .string(envelope), "created_at": .datetime(millisecondsOf: Date())]
            }
        }
        return RawTemplates(
            customer: try await one("customers", ["email": "template0@example.com"]),
            customerLedger: try await one(MessagingStore.processed, ["type": "customer.create"]),
            customerEvents: try events(["customer.created"]),
            subscriber: try await one("customers", ["_id": .string(customer)]),
            plan: try await one("plans", ["_id": .string(plan)]),
            method: try await one("payment_methods", ["_id": .string(method)]),
            subscription: try await one("subscriptions", ["customer_id": .string(customer)]),
            invoice: try await one("invoices", ["customer_id": .string(customer)]),
            payment: try await one("payments", ["customer_id": .string(customer)]),
            subscriptionLedger: try await one(MessagingStore.processed, ["type": "subscription.create"]),
            subscriptionEvents: try events(["invoice.created", "invoice.finalized", "invoice.paid", "subscription.created"]))
    }

    /// What a subscription.create reads: the customer, the plan and the payment method.
    func seed(_ database: MongoDatabase) async throws {
        _ = try await database.collection("customers", as: BSONDocument.self).insertOne(subscriber)
        _ = try await database.collection("plans", as: BSONDocument.self).insertOne(plan)
        _ = try await database.collection("payment_methods", as: BSONDocument.self).insertOne(method)
    }
}

/// The reads and writes of `customer.create` and `subscription.create` as one transaction each, by
/// a bare client: the yardstick of the gateway runs.
struct RawWrites: Sendable {
    let database: MongoDatabase
    let templates: RawTemplates

    static func fresh(_ template: BSONDocument, _ changes: [String: BSONValue]) -> BSONDocument {
        var document = template
        for (key, value) in changes { document[key] = value }
        return document
    }

    func customerCreate(_ tag: String) async throws {
        let t = templates
        let id = "cus_raw\(UUID().uuidString.prefix(18).lowercased())"
        let email = "raw\(tag)_\(id)@example.com"
        let ledgerID = "customer:msg_raw\(UUID().uuidString)"
        try await database.withTransaction { txn in
            let customers = txn.collection("customers", as: BSONDocument.self)
            guard try customers.count(["tenant_id": "default", "email": .string(email)], limit: 1) == 0 else {
                throw ValidationError("raw email taken")
            }
            _ = try customers.insertOne(Self.fresh(t.customer, ["_id": .string(id), "email": .string(email)]))
            let reference: BSONDocument = [
                "_id": .string(ledgerID), "tenant_id": "default", "subject": .string(id), "command_id": .string(ledgerID),
                "expire_at": .datetime(millisecondsOf: Date().addingTimeInterval(9 * 86_400)),
            ]
            _ = try txn.collection("personal_data_refs", as: BSONDocument.self).updateOne(
                ["_id": .string(ledgerID)], update: ["$setOnInsert": .document(reference)], upsert: true)
            _ = try txn.collection(MessagingStore.processed, as: BSONDocument.self).insertMany([
                Self.fresh(t.customerLedger, ["_id": .string(ledgerID)])
            ])
            _ = try txn.collection(MessagingStore.outbox, as: BSONDocument.self).insertMany(
                t.customerEvents.map { Self.fresh($0, ["_id": .string("evt_raw\(UUID().uuidString)")]) })
        }
    }

    func subscriptionCreate() async throws {
        let t = templates
        let tag = UUID().uuidString.lowercased()
        guard let customer = t.subscriber["_id"], let plan = t.plan["_id"], let method = t.method["_id"] else {
            throw ValidationError("the templates lack their ids")
        }
        try await database.withTransaction { txn in
            guard try txn.collection("customers", as: BSONDocument.self).findOne(["_id": customer, "tenant_id": "default"]) != nil,
                try txn.collection("plans", as: BSONDocument.self).findOne(["_id": plan, "tenant_id": "default"]) != nil
            else { throw ValidationError("raw subscriber or plan missing") }
            let methods = txn.collection("payment_methods", as: BSONDocument.self)
            _ = try methods.findOne(["_id": method, "tenant_id": "default", "customer_id": customer])
            _ = try txn.collection("customer_balances", as: BSONDocument.self).findOne(["_id": .string("default:raw:USD")])
            let counter = try txn.collection("counters", as: BSONDocument.self).findOneAndUpdate(
                ["_id": "invoice_number:default"], update: ["$inc": ["value": 1]], returnNew: true, upsert: true)
            let number = String(format: "INV-%06d", counter?["value"]?.intValue ?? 0)
            _ = try methods.findOne(["_id": method, "tenant_id": "default", "customer_id": customer])
            _ = try txn.collection("payments", as: BSONDocument.self).insertOne(
                Self.fresh(t.payment, ["_id": .string("pay_raw\(tag)"), "invoice_id": .string("in_raw\(tag)")]))
            _ = try txn.collection("invoices", as: BSONDocument.self).insertOne(
                Self.fresh(t.invoice, ["_id": .string("in_raw\(tag)"), "subscription_id": .string("sub_raw\(tag)"), "number": .string(number)]))
            _ = try txn.collection("subscriptions", as: BSONDocument.self).insertOne(
                Self.fresh(t.subscription, ["_id": .string("sub_raw\(tag)"), "latest_invoice": .string("in_raw\(tag)")]))
            _ = try txn.collection(MessagingStore.processed, as: BSONDocument.self).insertMany([
                Self.fresh(t.subscriptionLedger, ["_id": .string("subscription:msg_raw\(tag)")])
            ])
            _ = try txn.collection(MessagingStore.outbox, as: BSONDocument.self).insertMany(
                t.subscriptionEvents.map { Self.fresh($0, ["_id": .string("evt_raw\(UUID().uuidString)")]) })
        }
    }
}
