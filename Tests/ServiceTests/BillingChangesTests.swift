import BillingService
import Foundation
import HTTPTypes
import MessageBus
import Mongo
import Testing

@Suite("Billing engine: interval changes, pause and resume, invoice actions, clock isolation")
struct BillingChangesTests {
    @Test func anIntervalChangeStartsANewPeriodWithACreditAndProrationNoneAddsNoLines() async throws {
        try await BillingYearTests.withBilling { b in
            let day = Expect.day
            let monthly = try await b.plan("Monthly", "10.00", "USD", "month")
            let annual = try await b.plan("Annual", "100.00", "USD", "year")
            let annualPlus = try await b.plan("Annual Plus", "200.00", "USD", "year")
            let (customer, _) = try await b.customer("Switcher")
            // The clock stands at 2024-01-31; the first period runs to Feb 29 (29 days).
            let sub = try #require(try await b.subscribe(customer, monthly)["id"] as? String)
            try await b.advance(to: "2024-02-10T00:00:00Z")
            let changed = try await b.api.post("/v1/subscriptions/\(sub)/change-plan", b.admin, json(["plan_id": annual]))
            #expect(changed.status == 200, "\(changed.text)")
            #expect(changed.string("current_period_start") == "2024-02-10T00:00:00.000Z")
            #expect(changed.string("current_period_end") == "2025-02-10T00:00:00.000Z")
            let credit = -Expect.prorate(1000, unused: 19 * day, period: 29 * day)
            let invoices = try await b.invoices(customer)
            BillingYearTests.check(invoices, exponent: 2, [(1000, 1000, [1000]), (credit + 10000, credit + 10000, [credit, 10000])])
            // proration: none switches the plan without an invoice; the next renewal bills the new price.
            let quiet = try await b.api.post(
                "/v1/subscriptions/\(sub)/change-plan", b.admin, json(["plan_id": annualPlus, "proration": "none"]))
            #expect(quiet.status == 200 && quiet.string("price") == "200.00")
            #expect(try await b.invoices(customer).count == 2)
            try await b.advance(to: "2025-02-10T00:00:00Z")
            let last = try await b.invoices(customer)
            #expect(last.count == 3 && last.last?["total"] as? String == "200.00")
        }
    }

    @Test func aCancelCreditsOnlyWhatWasPaidAndCustomersCannotChooseProrationOrTrials() async throws {
        try await BillingYearTests.withBilling { b in
            let day = Expect.day
            let basic = try await b.plan("Basic", "10.00", "USD", "month")
            let premium = try await b.plan("Premium", "500.00", "USD", "month")
            let trial = try await b.plan("Trial Plan", "20.00", "USD", "month", trialDays: 7)
            let (customer, _) = try await b.customer("Mallory")
            let me = try await b.h.customer(customer, tenant: "t1")
            // A customer may not pick a trial of its own, nor proration choices.
            let freeTrial = try await b.api.post(
                "/v1/subscriptions", me, json(["customer_id": customer, "plan_id": basic, "trial_days": 730]))
            #expect(freeTrial.status == 403 && freeTrial.json["param"] as? String == "trial_days", "\(freeTrial.text)")
            let sub = try #require(try await b.subscribe(customer, basic)["id"] as? String)  // paid 10.00 on Jan 31
            try await b.advance(to: "2024-02-10T00:00:00Z")
            let quiet = try await b.api.post(
                "/v1/subscriptions/\(sub)/change-plan", me, json(["plan_id": premium, "proration": "none"]))
            #expect(quiet.status == 403 && quiet.json["param"] as? String == "proration", "\(quiet.text)")
            let credited = try await b.api.post("/v1/subscriptions/\(sub)/cancel", me, json(["prorate": true]))
            #expect(credited.status == 403 && credited.json["param"] as? String == "prorate", "\(credited.text)")

            // The merchant switches the price without an invoice, then cancels with a prorated credit:
            // the credit is the unused part of the 10.00 paid, not of 500.00 never invoiced.
            let switched = try await b.api.post(
                "/v1/subscriptions/\(sub)/change-plan", b.admin, json(["plan_id": premium, "proration": "none"]))
            #expect(switched.status == 200 && switched.string("price") == "500.00", "\(switched.text)")
            let canceled = try await b.api.post("/v1/subscriptions/\(sub)/cancel", b.admin, json(["prorate": true]))
            #expect(canceled.status == 200 && canceled.string("status") == "canceled", "\(canceled.text)")
            let expected = Expect.prorate(1000, unused: 19 * day, period: 29 * day)
            let balance = try await b.h.database.collection("customer_balances", as: BSONDocument.self).findOne([
                "customer_id": .string(customer)
            ])
            #expect(balance?["credit"]?.decimalValue.map { "\($0)" } == Expect.text(expected, exponent: 2))

            // The plan's own trial is still a customer's to take (the default).
            let (other, _) = try await b.customer("Trudy")
            let trudy = try await b.h.customer(other, tenant: "t1")
            let trialing = try await b.api.post("/v1/subscriptions", trudy, json(["customer_id": other, "plan_id": trial]))
            #expect(trialing.status == 201 && trialing.string("status") == "trialing", "\(trialing.text)")
        }
    }

    @Test func customersPauseTheirOwnSubscriptionOnlyWhenTheMerchantAllowsIt() async throws {
        try await BillingYearTests.withBilling { b in
            let monthly = try await b.plan("Monthly", "10.00", "USD", "month")
            let (customer, _) = try await b.customer("Paula")
            let sub = try #require(try await b.subscribe(customer, monthly)["id"] as? String)
            let me = try await b.h.customer(customer, tenant: "t1")
            let refused = try await b.api.post("/v1/subscriptions/\(sub)/pause", me)
            #expect(refused.status == 403 && refused.code == "forbidden", "\(refused.text)")
            #expect(try await b.subscription(sub)["status"] as? String == "active")
        }
        var lenient = BillingEngine()
        lenient.customersMayPause = true
        try await BillingYearTests.withBilling(engine: lenient) { b in
            let monthly = try await b.plan("Monthly", "10.00", "USD", "month")
            let (customer, _) = try await b.customer("Paula")
            let sub = try #require(try await b.subscribe(customer, monthly)["id"] as? String)
            let me = try await b.h.customer(customer, tenant: "t1")
            let paused = try await b.api.post("/v1/subscriptions/\(sub)/pause", me)
            #expect(paused.status == 200 && paused.string("status") == "paused", "\(paused.text)")
        }
    }

    @Test func pauseStopsInvoicingAndResumeStartsANewPeriod() async throws {
        try await BillingYearTests.withBilling { b in
            let monthly = try await b.plan("Monthly", "10.00", "USD", "month")
            let (customer, _) = try await b.customer("Pauser")
            let sub = try #require(try await b.subscribe(customer, monthly)["id"] as? String)
            try await b.advance(to: "2024-02-05T00:00:00Z")
            let paused = try await b.api.post("/v1/subscriptions/\(sub)/pause", b.admin)
            #expect(paused.status == 200 && paused.string("status") == "paused")
            // Pausing twice is an illegal transition: 409 naming it.
            let again = try await b.api.post("/v1/subscriptions/\(sub)/pause", b.admin)
            #expect(again.status == 409 && again.code == "illegal_transition")
            try await b.advance(to: "2024-04-10T00:00:00Z")
            #expect(try await b.invoices(customer).count == 1)
            let resumed = try await b.api.post("/v1/subscriptions/\(sub)/resume", b.admin)
            #expect(resumed.status == 200 && resumed.string("status") == "active")
            #expect(resumed.string("current_period_start") == "2024-04-10T00:00:00.000Z")
            #expect(resumed.string("current_period_end") == "2024-05-10T00:00:00.000Z")
            let invoices = try await b.invoices(customer)
            BillingYearTests.check(invoices, exponent: 2, [(1000, 1000, [1000]), (1000, 1000, [1000])])
            #expect(invoices.last?["status"] as? String == "paid")
        }
    }

    @Test func invoicesCanBeVoidedOrMarkedUncollectibleOnlyFromLegalStates() async throws {
        try await BillingYearTests.withBilling { b in
            let monthly = try await b.plan("Monthly", "10.00", "USD", "month")
            let (first, _) = try await b.customer("Voided", token: "pm_card_chargeDeclined")
            _ = try await b.subscribe(first, monthly)
            let open = try #require(try await b.invoices(first).first?["id"] as? String)
            let voided = try await b.api.post("/v1/invoices/\(open)/void", b.admin)
            #expect(voided.status == 200 && voided.string("status") == "void")
            let late = try await b.api.post("/v1/invoices/\(open)/mark-uncollectible", b.admin)
            #expect(late.status == 409 && late.code == "illegal_transition")
            let (second, _) = try await b.customer("Uncollectible", token: "pm_card_insufficientFunds")
            _ = try await b.subscribe(second, monthly)
            let other = try #require(try await b.invoices(second).first?["id"] as? String)
            let marked = try await b.api.post("/v1/invoices/\(other)/mark-uncollectible", b.admin)
            #expect(marked.status == 200 && marked.string("status") == "uncollectible")
            // A paid invoice cannot be voided.
            let (payer, _) = try await b.customer("Payer")
            _ = try await b.subscribe(payer, monthly)
            let paid = try #require(try await b.invoices(payer).first?["id"] as? String)
            #expect(try await b.api.post("/v1/invoices/\(paid)/void", b.admin).status == 409)
            // A customer may not void (admin and service only).
            #expect(try await b.api.post("/v1/invoices/\(other)/void", try await b.h.customer(second)).status == 403)
        }
    }

    @Test func suspendedCustomersCannotSubscribeAndAdvancingOneClockLeavesOthersAlone() async throws {
        try await BillingYearTests.withBilling { b in
            let monthly = try await b.plan("Monthly", "10.00", "USD", "month")
            let (suspended, _) = try await b.customer("Suspended")
            #expect(try await b.api.post("/v1/customers/\(suspended)/suspend", b.admin).status == 200)
            let refused = try await b.api.post("/v1/subscriptions", b.admin, json(["customer_id": suspended, "plan_id": monthly]))
            #expect(refused.status == 409 && refused.code == "customer_not_active")

            // Another clock, and a customer on the real clock: neither moves when this clock advances.
            let otherClock = try #require(
                try await b.api.post("/v1/test-clocks", b.admin, json(["frozen_time": "2024-01-31T00:00:00Z"])).string("id"))
            let onOther = try #require(
                try await b.api.post(
                    "/v1/customers", b.admin, json(["name": "Other", "email": "other@example.com", "test_clock": otherClock])
                ).string("id"))
            _ = try await b.api.post("/v1/payment-methods", b.admin, json(["customer_id": onOther, "token": "pm_card_visa"]))
            let otherSub = try #require(
                try await b.api.post("/v1/subscriptions", b.admin, json(["customer_id": onOther, "plan_id": monthly])).string("id"))
            let (mine, _) = try await b.customer("Mine")
            _ = try await b.subscribe(mine, monthly)
            try await b.advance(to: "2024-06-01T00:00:00Z")
            #expect(try await b.invoices(mine).count == 5)
            #expect(try await b.invoices(onOther).count == 1)
            #expect(try await b.subscription(otherSub)["current_period_end"] as? String == "2024-02-29T00:00:00.000Z")
            // A clock never moves backwards.
            let back = try await b.api.post("/v1/test-clocks/\(b.clock)/advance", b.admin, json(["frozen_time": "2024-05-01T00:00:00Z"]))
            #expect(back.status == 422 && back.param == "frozen_time")
        }
    }
}
