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
