import BillingService
import Foundation
import HTTPTypes
import MessageBus
import Mongo
import Testing

/// Expected figures computed here from DESIGN §6's formulas, in integer minor units, independently
/// of the engine's Decimal code: `amount × unused / period`, rounded half away from zero.
enum Expect {
    static func prorate(_ minor: Int, unused: Int, period: Int) -> Int {
        let numerator = 2 * abs(minor) * unused + period
        let value = numerator / (2 * period)
        return minor < 0 ? -value : value
    }

    /// Minor units as the API writes them (`exponent` decimals).
    static func text(_ minor: Int, exponent: Int) -> String {
        guard exponent > 0 else { return String(minor) }
        let negative = minor < 0
        let digits = String(abs(minor))
        let padded = String(repeating: "0", count: max(0, exponent + 1 - digits.count)) + digits
        let cut = padded.index(padded.endIndex, offsetBy: -exponent)
        return (negative ? "-" : "") + padded[..<cut] + "." + padded[cut...]
    }

    static let day = 86_400

    /// Minor units of a decimal string (`"13.11"` → 1311 with exponent 2).
    static func minor(_ text: String?, exponent: Int) -> Int? {
        guard let text else { return nil }
        let negative = text.hasPrefix("-")
        let parts = text.trimmingCharacters(in: CharacterSet(charactersIn: "-")).split(separator: ".")
        guard let whole = Int(parts[0]) else { return nil }
        var fraction = parts.count > 1 ? String(parts[1]) : ""
        fraction += String(repeating: "0", count: max(0, exponent - fraction.count))
        let value = whole * Int(pow(10.0, Double(exponent))) + (Int(fraction.prefix(exponent)) ?? 0)
        return negative ? -value : value
    }
}

/// A billing test on one test clock, through the gateway, against the real workers.
struct Billing {
    let h: ServiceHarness
    let api: API
    let admin: HTTPFields
    let clock: String

    func iso(_ text: String) -> String { text }

    func plan(_ name: String, _ price: String, _ currency: String, _ interval: String, trialDays: Int = 0) async throws -> String {
        let answer = try await api.post(
            "/v1/plans", admin,
            json(["name": name, "price": price, "currency": currency, "interval": interval, "interval_count": 1, "trial_days": trialDays]))
        #expect(answer.status == 201, "\(answer.text)")
        return try #require(answer.string("id"))
    }

    /// A customer on the clock with a default card; returns (customer, payment method).
    func customer(_ name: String, token: String = "pm_card_visa") async throws -> (String, String) {
        let created = try await api.post(
            "/v1/customers", admin, json(["name": name, "email": "\(name.lowercased())@example.com", "test_clock": clock]))
        #expect(created.status == 201, "\(created.text)")
        let id = try #require(created.string("id"))
        let method = try await api.post(
            "/v1/payment-methods", admin, json(["customer_id": id, "type": "card", "token": token]))
        #expect(method.status == 201, "\(method.text)")
        return (id, try #require(method.string("id")))
    }

    func subscribe(_ customer: String, _ plan: String) async throws -> [String: Any] {
        let answer = try await api.post("/v1/subscriptions", admin, json(["customer_id": customer, "plan_id": plan]))
        #expect(answer.status == 201, "\(answer.text)")
        return answer.json
    }

    func advance(to time: String) async throws {
        let answer = try await api.post("/v1/test-clocks/\(clock)/advance", admin, json(["frozen_time": time]))
        #expect(answer.status == 200, "advance to \(time): \(answer.text)")
        #expect(answer.string("frozen_time")?.hasPrefix(String(time.prefix(19))) == true)
    }

    func subscription(_ id: String) async throws -> [String: Any] {
        try await api.get("/v1/subscriptions/\(id)", admin).json
    }

    /// The customer's invoices, oldest first.
    func invoices(_ customer: String) async throws -> [[String: Any]] {
        let list = try await api.get("/v1/invoices?customer_id=\(customer)&limit=100", admin)
        #expect(list.status == 200, "\(list.text)")
        let data = list.json["data"] as? [[String: Any]] ?? []
        return data.sorted { ($0["id"] as? String ?? "") < ($1["id"] as? String ?? "") }
    }
}

@Suite("Billing engine on a test clock, through the gateway")
struct BillingYearTests {
    static func withBilling(
        engine: BillingEngine = BillingEngine(), _ body: @escaping @Sendable (Billing) async throws -> Void
    ) async throws {
        let harness = try await ServiceHarness(extra: [
            (SubscriptionService.name, SubscriptionService.registry(engine)),
            (InvoiceService.name, InvoiceService.registry(engine)),
        ])
        do {
            let admin = try await harness.admin()
            try await harness.api { api in
                let created = try await api.post("/v1/test-clocks", admin, json(["frozen_time": "2024-01-31T00:00:00Z", "name": "year"]))
                #expect(created.status == 201, "\(created.text)")
                let clock = try #require(created.string("id"))
                try await body(Billing(h: harness, api: api, admin: admin, clock: clock))
            }
        } catch {
            await harness.shutdown()
            throw error
        }
        await harness.shutdown()
    }

    /// (total, amount_due, status) of each invoice, and every line amount, against the formula.
    static func check(
        _ invoices: [[String: Any]], exponent: Int, _ expected: [(total: Int, due: Int, lines: [Int])],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(invoices.count == expected.count, "\(invoices.count) invoices, expected \(expected.count)", sourceLocation: sourceLocation)
        for (index, (invoice, want)) in zip(invoices, expected).enumerated() {
            let lines = (invoice["lines"] as? [[String: Any]] ?? []).map { Expect.minor($0["amount"] as? String, exponent: exponent) }
            #expect(lines == want.lines.map(Optional.some), "invoice \(index) lines", sourceLocation: sourceLocation)
            #expect(
                Expect.minor(invoice["total"] as? String, exponent: exponent) == want.total, "invoice \(index) total",
                sourceLocation: sourceLocation)
            #expect(
                Expect.minor(invoice["amount_due"] as? String, exponent: exponent) == want.due, "invoice \(index) amount due",
                sourceLocation: sourceLocation)
            // Every total is the sum of its lines.
            #expect(
                lines.compactMap { $0 }.reduce(0, +) == Expect.minor(invoice["total"] as? String, exponent: exponent),
                sourceLocation: sourceLocation)
        }
    }

    @Test func aYearOfRenewalsUpgradesDowngradesTrialsDunningAndCancels() async throws {
        try await Self.withBilling { b in
            let day = Expect.day
            // Plans in currencies with 2, 0 and 3 decimals.
            let basic = try await b.plan("Basic", "10.00", "USD", "month")
            let pro = try await b.plan("Pro", "30.00", "USD", "month")
            let annual = try await b.plan("Annual", "100.00", "USD", "year")
            let trial = try await b.plan("Trial", "20.00", "USD", "month", trialDays: 14)
            let yen = try await b.plan("Yen", "1000", "JPY", "month")
            let yenPro = try await b.plan("Yen Pro", "2500", "JPY", "month")
            let dinar = try await b.plan("Dinar", "5.125", "KWD", "month")

            let (alice, _) = try await b.customer("Alice")
            let (bob, _) = try await b.customer("Bob")
            let (carol, _) = try await b.customer("Carol")
            let (dave, daveCard) = try await b.customer("Dave")
            let (erin, _) = try await b.customer("Erin")
            let (frank, _) = try await b.customer("Frank")
            let (gina, _) = try await b.customer("Gina")

            // 2024-01-31 (a leap year; month ends clamp: Feb 29, Mar 31, Apr 30 …).
            let aliceSub = try #require(try await b.subscribe(alice, basic)["id"] as? String)
            _ = try await b.subscribe(bob, annual)
            let carolSub = try await b.subscribe(carol, trial)
            #expect(carolSub["status"] as? String == "trialing")
            #expect(carolSub["trial_end"] as? String == "2024-02-14T00:00:00.000Z")
            let daveSub = try #require(try await b.subscribe(dave, basic)["id"] as? String)
            let erinSub = try #require(try await b.subscribe(erin, basic)["id"] as? String)
            let frankSub = try #require(try await b.subscribe(frank, yen)["id"] as? String)
            let ginaSub = try #require(try await b.subscribe(gina, dinar)["id"] as? String)
            #expect(try await b.subscription(aliceSub)["current_period_end"] as? String == "2024-02-29T00:00:00.000Z")

            // Day 10: Alice and Frank upgrade (period Jan 31 → Feb 29 = 29 days, 19 unused).
            try await b.advance(to: "2024-02-10T00:00:00Z")
            let upgrade = try await b.api.post(
                "/v1/subscriptions/\(aliceSub)/change-plan", b.admin, json(["plan_id": pro, "proration": "create_prorations"]))
            #expect(upgrade.status == 200, "\(upgrade.text)")
            #expect(
                try await b.api.post("/v1/subscriptions/\(frankSub)/change-plan", b.admin, json(["plan_id": yenPro])).status == 200)
            // Another currency is refused.
            let mismatch = try await b.api.post("/v1/subscriptions/\(frankSub)/change-plan", b.admin, json(["plan_id": basic]))
            #expect(mismatch.status == 422 && mismatch.param == "plan_id")

            // Dave's card starts failing before his renewal.
            let failing = try await b.api.post(
                "/v1/payment-methods", b.admin, json(["customer_id": dave, "type": "card", "token": "pm_card_insufficientFunds"]))
            let failingID = try #require(failing.string("id"))
            let broken = try await b.api.patch("/v1/subscriptions/\(daveSub)", b.admin, json(["default_payment_method": failingID]))
            #expect(broken.status == 200, "\(broken.status) \(broken.text)")

            // Feb 29: renewals; Dave's fails (past_due, retry 1 day later); Mar 1 retry fails too.
            try await b.advance(to: "2024-03-02T00:00:00Z")
            #expect(try await b.subscription(daveSub)["status"] as? String == "past_due")
            let daveOpen = try await b.invoices(dave).last
            #expect(daveOpen?["attempt_count"] as? Int == 2)
            #expect(daveOpen?["next_payment_attempt"] as? String == "2024-03-03T00:00:00.000Z")
            // He fixes his card; the second retry (Mar 3) succeeds.
            let fixed = try await b.api.patch("/v1/subscriptions/\(daveSub)", b.admin, json(["default_payment_method": daveCard]))
            #expect(fixed.status == 200, "\(fixed.status) \(fixed.text)")
            try await b.advance(to: "2024-03-04T00:00:00Z")
            #expect(try await b.subscription(daveSub)["status"] as? String == "active")

            // Mar 10: Erin cancels at period end (Mar 31). Mar 15: Alice downgrades (31-day period, 16 unused).
            try await b.advance(to: "2024-03-10T00:00:00Z")
            #expect(
                try await b.api.post("/v1/subscriptions/\(erinSub)/cancel", b.admin, json(["at_period_end": true])).status == 200)
            try await b.advance(to: "2024-03-15T00:00:00Z")
            #expect(try await b.api.post("/v1/subscriptions/\(aliceSub)/change-plan", b.admin, json(["plan_id": basic])).status == 200)

            // Jun 10: Gina cancels now with a prorated credit (period May 31 → Jun 30 = 30 days, 20 unused).
            try await b.advance(to: "2024-06-10T00:00:00Z")
            let ginaCancel = try await b.api.post(
                "/v1/subscriptions/\(ginaSub)/cancel", b.admin, json(["at_period_end": false, "prorate": true]))
            #expect(ginaCancel.status == 200 && ginaCancel.string("status") == "canceled")

            // To the end of the year and the annual renewal.
            try await b.advance(to: "2025-01-31T00:00:00Z")

            // Alice: 10.00; upgrade −6.55 + 19.66; Pro renewal 30.00 (Feb 29); downgrade −15.48 + 5.16 = −10.32
            // (nothing due, 10.32 credit); Mar 31 10.00 − 10.00 credit; Apr 30 10.00 − 0.32; then 10.00 monthly to Jan 31.
            let c1 = -Expect.prorate(1000, unused: 19 * day, period: 29 * day)
            let ch1 = Expect.prorate(3000, unused: 19 * day, period: 29 * day)
            let c2 = -Expect.prorate(3000, unused: 16 * day, period: 31 * day)
            let ch2 = Expect.prorate(1000, unused: 16 * day, period: 31 * day)
            #expect((c1, ch1, c2, ch2) == (-655, 1966, -1548, 516))
            var aliceExpected: [(total: Int, due: Int, lines: [Int])] = [
                (1000, 1000, [1000]), (c1 + ch1, c1 + ch1, [c1, ch1]), (3000, 3000, [3000]), (c2 + ch2, 0, [c2, ch2]),
            ]
            var credit = -(c2 + ch2)
            for _ in 0..<11 {  // Mar 31, Apr 30, May 31 … Jan 31 2025
                let applied = min(credit, 1000)
                credit -= applied
                aliceExpected.append((1000, 1000 - applied, [1000]))
            }
            Self.check(try await b.invoices(alice), exponent: 2, aliceExpected)
            #expect(try await b.subscription(aliceSub)["current_period_end"] as? String == "2025-02-28T00:00:00.000Z")

            // Bob: 100.00 for 2024, 100.00 again on 2025-01-31.
            Self.check(try await b.invoices(bob), exponent: 2, [(10000, 10000, [10000]), (10000, 10000, [10000])])

            // Carol: trial (0.00), converts Feb 14 (20.00), then the 14th of every month to Jan 14 2025.
            Self.check(
                try await b.invoices(carol), exponent: 2, [(0, 0, [0])] + Array(repeating: (2000, 2000, [2000]), count: 12))
            #expect(try await b.h.outbox().contains { $0["type"]?.stringValue == "subscription.trial_will_end" })

            // Dave: every renewal 10.00; the Feb 29 one paid on its third attempt.
            let daveInvoices = try await b.invoices(dave)
            Self.check(daveInvoices, exponent: 2, Array(repeating: (1000, 1000, [1000]), count: 13))
            #expect(daveInvoices[1]["attempt_count"] as? Int == 3 && daveInvoices[1]["status"] as? String == "paid")

            // Erin: Jan 31 and Feb 29, then canceled at Mar 31 without an invoice.
            Self.check(try await b.invoices(erin), exponent: 2, [(1000, 1000, [1000]), (1000, 1000, [1000])])
            let erinNow = try await b.subscription(erinSub)
            #expect(erinNow["status"] as? String == "canceled" && erinNow["canceled_at"] as? String == "2024-03-31T00:00:00.000Z")

            // Frank (JPY, no decimals): 1000; upgrade −655 + 1638; then 2500 monthly.
            let fc = -Expect.prorate(1000, unused: 19 * day, period: 29 * day)
            let fch = Expect.prorate(2500, unused: 19 * day, period: 29 * day)
            #expect((fc, fch) == (-655, 1638))
            Self.check(
                try await b.invoices(frank), exponent: 0,
                [(1000, 1000, [1000]), (fc + fch, fc + fch, [fc, fch])] + Array(repeating: (2500, 2500, [2500]), count: 12))
            #expect((try await b.invoices(frank))[1]["total"] as? String == "983")

            // Gina (KWD, 3 decimals): 5.125 on Jan 31 … May 31, then canceled Jun 10 with 3.417 credit.
            Self.check(try await b.invoices(gina), exponent: 3, Array(repeating: (5125, 5125, [5125]), count: 5))
            let ginaCredit = Expect.prorate(5125, unused: 20 * day, period: 30 * day)
            #expect(ginaCredit == 3417)
            let balance = try await b.h.database.collection("customer_balances", as: BSONDocument.self).findOne([
                "customer_id": .string(gina)
            ])
            #expect(balance?["credit"]?.decimalValue.map { "\($0)" } == Expect.text(ginaCredit, exponent: 3))

            // Every event raised matches its schema in schemas/events.
            try BillingYearTests.expectEventsMatchSchemas(try await b.h.outbox())

            // Across all of it: numbers are gapless per tenant, and payments equal amount_paid.
            let all = try await b.h.database.collection("invoices", as: BSONDocument.self).find([:])
            let numbers = all.compactMap { $0["number"]?.stringValue }.sorted()
            #expect(numbers == (1...all.count).map { String(format: "INV-%06d", $0) })
            let payments = try await b.h.database.collection("payments", as: BSONDocument.self).find(["status": "succeeded"])
            for invoice in all {
                let paid = payments.filter { $0["invoice_id"]?.stringValue == invoice["_id"]?.stringValue }
                    .compactMap { $0["amount"]?.decimalValue }.reduce(Decimal(0), +)
                #expect(paid == invoice["amount_paid"]?.decimalValue, "payments of \(invoice["_id"]?.stringValue ?? "?")")
            }
        }
    }

    /// Each event's payload keys are among its schema's properties and include the required ones.
    static func expectEventsMatchSchemas(_ outbox: [BSONDocument], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let folder = ServiceHarness.repository.appendingPathComponent("schemas/events")
        for entry in outbox where entry["service"] == nil {
            let envelope = try MessageCoding.decode(Envelope.self, from: try #require(entry["envelope"]?.stringValue))
            let url = folder.appendingPathComponent("\(envelope.type).json")
            guard let data = try? Data(contentsOf: url),
                let schema = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            else {
                Issue.record("no schema for event \(envelope.type)", sourceLocation: sourceLocation)
                continue
            }
            guard case .object(let payload) = envelope.payload else {
                Issue.record("\(envelope.type) payload is not an object", sourceLocation: sourceLocation)
                continue
            }
            let properties = Set((schema["properties"] as? [String: Any] ?? [:]).keys)
            let required = Set(schema["required"] as? [String] ?? [])
            #expect(Set(payload.keys).isSubset(of: properties), "\(envelope.type): \(payload.keys.sorted())", sourceLocation: sourceLocation)
            #expect(required.isSubset(of: Set(payload.keys)), "\(envelope.type) misses required members", sourceLocation: sourceLocation)
        }
    }

    @Test func everyBillingCommandTypeHasASchema() throws {
        let engine = BillingEngine()
        let folder = ServiceHarness.repository.appendingPathComponent("schemas/commands")
        for type in SubscriptionService.registry(engine).types + InvoiceService.registry(engine).types {
            let data = try Data(contentsOf: folder.appendingPathComponent("\(type).json"))
            let schema = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect(schema["title"] as? String == type)
        }
    }
}
