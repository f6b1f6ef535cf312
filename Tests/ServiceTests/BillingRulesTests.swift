import BillingDomain
import BillingService
import Foundation
import HTTPTypes
import MessageBus
import WorkerRuntime
import Mongo
import Redis
import Synchronization
import Testing

@Suite("Billing engine: concurrency, schedulers, payments, card numbers")
struct BillingRulesTests {
    /// A change of plan and a cancel of one subscription from two concurrent transactions: both
    /// land in some order (the loser reruns on fresh data), and the invoices match the final state.
    @Test func aConcurrentChangePlanAndCancelLoseNoUpdate() async throws {
        try await BillingYearTests.withBilling { b in
            let basic = try await b.plan("Basic", "10.00", "USD", "month")
            let pro = try await b.plan("Pro", "30.00", "USD", "month")
            let (customer, _) = try await b.customer("Concurrent")
            let sub = try #require(try await b.subscribe(customer, basic)["id"] as? String)
            try await b.advance(to: "2024-02-10T00:00:00Z")
            let engine = BillingEngine()
            let processor = CommandProcessor(
                group: SubscriptionService.name, registry: SubscriptionService.registry(engine), database: b.h.database,
                redis: b.h.redis)
            let principal = Principal(subject: "usr_admin", role: .admin, tenant: "t1")
            let change = Envelope(
                type: "subscription.change_plan", principal: principal,
                payload: .object(["path": .object(["id": .string(sub)]), "body": .object(["plan_id": .string(pro)])]),
                createdAt: Date())
            let cancel = Envelope(
                type: "subscription.cancel", principal: principal,
                payload: .object(["path": .object(["id": .string(sub)]), "body": .object(["at_period_end": .bool(true)])]),
                createdAt: Date())
            async let first = processor.process([change])
            async let second = processor.process([cancel])
            let (changed, canceled) = try await (first[0].get().reply, second[0].get().reply)
            #expect(changed.httpStatus == 200, "\(String(describing: changed.error))")
            #expect(canceled.httpStatus == 200, "\(String(describing: canceled.error))")
            // Both changes are in the final document: the plan is Pro and it cancels at period end.
            let final = try await b.subscription(sub)
            #expect(final["plan_id"] as? String == pro)
            #expect(final["cancel_at_period_end"] as? Bool == true)
            let stored = try #require(
                try await b.h.database.collection("subscriptions", as: BSONDocument.self).findOne(["_id": .string(sub)]))
            #expect(stored["version"]?.intValue == 3)
            // Exactly one proration invoice, for the change that happened.
            let invoices = try await b.invoices(customer)
            #expect(invoices.count == 2)
            #expect(invoices.last?["billing_reason"] as? String == "subscription_update")
            // The cancel takes effect at the end of the period: no renewal at Feb 29.
            try await b.advance(to: "2024-03-01T00:00:00Z")
            #expect(try await b.subscription(sub)["status"] as? String == "canceled")
            #expect(try await b.invoices(customer).count == 2)
        }
    }

    /// Two schedulers on the real clock at once: every due renewal is invoiced and charged once.
    @Test func twoSchedulersAtOnceInvoiceAndChargeOnce() async throws {
        let engine = BillingEngine()
        let harness = try await ServiceHarness(extra: [
            (SubscriptionService.name, SubscriptionService.registry(engine)),
            (InvoiceService.name, InvoiceService.registry(engine)),
        ])
        do {
            let admin = try await harness.admin()
            let created = Mutex<[String]>([])
            try await harness.api { api in
                let plan = try await api.post(
                    "/v1/plans", admin, json(["name": "Daily", "price": "1.00", "currency": "USD", "interval": "day"]))
                let planID = try #require(plan.string("id"))
                for i in 0..<5 {
                    let customer = try #require(
                        try await api.post("/v1/customers", admin, json(["name": "R\(i)", "email": "r\(i)@example.com"]))
                            .string("id"))
                    #expect(
                        try await api.post(
                            "/v1/payment-methods", admin, json(["customer_id": customer, "token": "pm_card_visa"])
                        ).status == 201)
                    let sub = try await api.post("/v1/subscriptions", admin, json(["customer_id": customer, "plan_id": planID]))
                    let id = try #require(sub.string("id"))
                    created.withLock { $0.append(id) }
                }
            }
            let subscriptions = created.withLock { $0 }
            #expect(subscriptions.count == 5)
            // Both schedulers see the clock a day and a minute ahead: one renewal each is due.
            let clock = ManualBillingClock(Date().addingTimeInterval(86_400 + 60))
            let one = BillingScheduler(engine: engine, database: harness.database, bus: harness.bus, clock: clock)
            let two = BillingScheduler(engine: engine, database: harness.database, bus: harness.bus, clock: clock)
            async let a = one.tick()
            async let c = two.tick()
            let (sentA, sentB) = try await (a, c)
            #expect(sentA == 5 && sentB == 5, "each scheduler sends every due renewal")
            let invoices = harness.database.collection("invoices", as: BSONDocument.self)
            var settled = false
            for _ in 0..<200 {
                let renewed = try await invoices.count(["billing_reason": "subscription_cycle"])
                if renewed >= 5 {
                    settled = true
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(settled)
            try await Task.sleep(for: .milliseconds(500))
            // A third pass (a restart) sends the same ids again; still nothing twice.
            let three = BillingScheduler(engine: engine, database: harness.database, bus: harness.bus, clock: clock)
            _ = try await three.tick()
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await invoices.count(["billing_reason": "subscription_cycle"]) == 5)
            #expect(try await harness.database.collection("payments", as: BSONDocument.self).count([:]) == 10)
            for sub in subscriptions {
                #expect(try await invoices.count(["subscription_id": .string(sub)]) == 2)
            }
        } catch {
            await harness.shutdown()
            throw error
        }
        await harness.shutdown()
    }

    @Test func aDeclinedFirstPaymentIsIncompleteThenExpiresAndDunningEndsUnpaid() async throws {
        try await BillingYearTests.withBilling { b in
            let basic = try await b.plan("Basic", "10.00", "USD", "month")
            let (declined, _) = try await b.customer("Declined", token: "pm_card_chargeDeclined")
            let created = try await b.subscribe(declined, basic)
            #expect(created["status"] as? String == "incomplete")
            let sub = try #require(created["id"] as? String)
            let invoice = try #require(try await b.invoices(declined).first)
            #expect(invoice["status"] as? String == "open")
            let payment = try await b.h.database.collection("payments", as: BSONDocument.self).findOne([
                "invoice_id": .string(invoice["id"] as? String ?? "")
            ])
            #expect(payment?["failure_code"]?.stringValue == "card_declined")
            #expect(payment?["provider_reference"]?.stringValue?.hasPrefix("ch_sandbox_") == true)
            // Paying by hand with the same card: 402 naming the decline, recorded as a second attempt.
            let pay = try await b.api.post("/v1/invoices/\(invoice["id"] as? String ?? "")/pay", b.admin)
            #expect(pay.status == 402 && pay.code == "card_declined")
            // 23 hours later: incomplete_expired, the invoice void.
            try await b.advance(to: "2024-02-01T00:00:00Z")
            let expired = try await b.subscription(sub)
            #expect(expired["status"] as? String == "incomplete_expired", "\(expired)")
            #expect(try await b.invoices(declined).first?["status"] as? String == "void")

            // Dunning to the end: a renewal that never succeeds ends `unpaid` after the 4 retries.
            let (poor, _) = try await b.customer("Poor")
            let poorSub = try #require(try await b.subscribe(poor, basic)["id"] as? String)
            let failing = try await b.api.post(
                "/v1/payment-methods", b.admin,
                json(["customer_id": poor, "token": "pm_card_insufficientFunds", "set_default": true]))
            let switched = try await b.api.patch(
                "/v1/subscriptions/\(poorSub)", b.admin, json(["default_payment_method": failing.string("id") ?? ""]))
            #expect(switched.status == 200, "\(switched.status) \(switched.text) (payment method: \(failing.status) \(failing.text))")
            try await b.advance(to: "2024-03-15T00:00:00Z")
            #expect(try await b.subscription(poorSub)["status"] as? String == "unpaid")
            let open = try await b.invoices(poor).last
            #expect(open?["attempt_count"] as? Int == 5 && open?["status"] as? String == "open")
            #expect(open?["next_payment_attempt"] is NSNull)
            // An unpaid subscription does not renew; paying the invoice with a good card makes it active.
            let good = try await b.api.post(
                "/v1/payment-methods", b.admin, json(["customer_id": poor, "token": "pm_card_mastercard"]))
            let paid = try await b.api.post(
                "/v1/invoices/\(open?["id"] as? String ?? "")/pay", b.admin, json(["payment_method": good.string("id") ?? ""]))
            #expect(paid.status == 200 && paid.string("status") == "paid", "\(paid.text)")
            #expect(try await b.subscription(poorSub)["status"] as? String == "active")
        }
    }

    @Test func cardNumbersAreRefusedAtTheEdgeAndNeverStoredOrQueued() async throws {
        try await BillingYearTests.withBilling { b in
            let (customer, _) = try await b.customer("Cardholder")
            for (body, field) in [
                (json(["customer_id": customer, "type": "card", "token": "4242 4242 4242 4242"]), "token"),
                (json(["customer_id": customer, "type": "card", "token": "pm_card_visa", "note": "4000-0566-5566-5556"]), "note"),
            ] {
                let answer = try await b.api.post("/v1/payment-methods", b.admin, body)
                #expect(answer.status == 422 && answer.code == "card_number_refused" && answer.param == field, "\(answer.text)")
            }
            let inMetadata = try await b.api.post(
                "/v1/customers", b.admin, json(["name": "M", "email": "m@example.com", "metadata": ["pan": "5555555555554444"]]))
            #expect(inMetadata.status == 422 && inMetadata.param == "metadata.pan")
            // Digits that are not a card number (Luhn fails, or too short) pass the guard.
            let phone = try await b.api.post(
                "/v1/customers", b.admin, json(["name": "Phone", "email": "p@example.com", "metadata": ["phone": "+1 415 555 2671"]]))
            #expect(phone.status == 201)
            // Nothing card-shaped reached MongoDB or any Redis stream.
            for (collection, text) in try await b.h.everyDocument() {
                for pan in ["4242424242424242", "4242 4242 4242 4242", "5555555555554444", "4000-0566-5566-5556"] {
                    #expect(!text.contains(pan), "\(collection) holds a card number")
                }
            }
            for key in try await b.h.redis.keys(prefix: b.h.names.prefix + ":") where key.contains(":cmd:") {
                let entries = try await b.h.redis.send(XRANGE(key))
                for entry in entries {
                    let text = entry.fields.map { "\($0.value)" }.joined()
                    #expect(!text.contains("4242 4242 4242 4242") && !text.contains("5555555555554444"))
                }
            }
            // The sandbox token gives brand, last 4 and expiry only.
            let listed = try await b.api.get("/v1/payment-methods?customer_id=\(customer)", b.admin)
            let card = (listed.json["data"] as? [[String: Any]])?.first?["card"] as? [String: Any]
            #expect(card?["brand"] as? String == "visa" && card?["last4"] as? String == "4242")
        }
    }

    @Test func aCustomerSeesOnlyItsOwnSubscriptionsInvoicesAndPaymentMethods() async throws {
        try await BillingYearTests.withBilling { b in
            let basic = try await b.plan("Basic", "10.00", "USD", "month")
            let (mine, _) = try await b.customer("Mine")
            let (theirs, _) = try await b.customer("Theirs")
            let mySub = try #require(try await b.subscribe(mine, basic)["id"] as? String)
            let theirSub = try #require(try await b.subscribe(theirs, basic)["id"] as? String)
            let me = try await b.h.customer(mine)
            #expect(try await b.api.get("/v1/subscriptions/\(mySub)", me).status == 200)
            let peek = try await b.api.get("/v1/subscriptions/\(theirSub)", me)
            #expect(peek.status == 404, "\(peek.status) \(peek.text)")
            let theirInvoice = try #require(try await b.invoices(theirs).first?["id"] as? String)
            #expect(try await b.api.get("/v1/invoices/\(theirInvoice)", me).status == 404)
            #expect(try await b.api.post("/v1/invoices/\(theirInvoice)/pay", me).status == 404)
            #expect(try await b.api.post("/v1/subscriptions/\(theirSub)/cancel", me, json(["at_period_end": true])).status == 404)
            let list = try await b.api.get("/v1/invoices?customer_id=\(theirs)", me)
            #expect((list.json["data"] as? [Any])?.isEmpty == true)
            let methods = try await b.api.get("/v1/payment-methods", me)
            let owners = (methods.json["data"] as? [[String: Any]] ?? []).compactMap { $0["customer_id"] as? String }
            #expect(owners == [mine])
            // Archived plans take no new subscriptions; a suspended customer cannot subscribe.
            #expect(try await b.api.post("/v1/plans/\(basic)/archive", b.admin).status == 200)
            let archived = try await b.api.post("/v1/subscriptions", b.admin, json(["customer_id": mine, "plan_id": basic]))
            #expect(archived.status == 409 && archived.code == "plan_archived")
        }
    }
}
