import BillingService
import Foundation
import HTTPTypes
import MessageBus
import Mongo
import Testing

/// `amount × numerator / denominator` in minor units, rounded half away from zero: DESIGN §13's
/// discount and tax formula, in integers, independently of the engine's Decimal code.
func share(_ minor: Int, _ numerator: Int, _ denominator: Int) -> Int {
    let value = (2 * abs(minor) * numerator + denominator) / (2 * denominator)
    return minor < 0 ? -value : value
}

@Suite("Coupons and tax rates: the API, and invoices on a test clock")
struct AdjustmentRouteTests {
    @Test func couponsAndTaxRatesAreCreatedCheckedListedAndDeletedByStaffOnly() async throws {
        try await BillingYearTests.withBilling { b in
            let api = b.api
            // Bad input: a 4xx naming the field (400 from the gateway's schema check, 422 from the
            // worker's rules), nothing written.
            let refusals: [([String: Any], String)] = [
                (["duration": "once"], "percent_off"),
                (["duration": "once", "percent_off": 10, "amount_off": "5.00", "currency": "USD"], "amount_off"),
                (["duration": "once", "amount_off": "5.00"], "currency"),
                (["duration": "once", "amount_off": "5.001", "currency": "USD"], "amount_off"),
                (["duration": "once", "percent_off": 0], "percent_off"),
                (["duration": "once", "percent_off": 33.333], "percent_off"),
                (["duration": "repeating", "percent_off": 10], "duration_in_months"),
                (["duration": "forever", "percent_off": 10, "duration_in_months": 3], "duration_in_months"),
                (["duration": "once", "percent_off": 10, "redeem_by": "2020-01-01T00:00:00Z"], "redeem_by"),
                (["duration": "weekly", "percent_off": 10], "duration"),
                (["duration": "once", "percent_off": "10"], "percent_off"),
            ]
            for (body, field) in refusals {
                let refused = try await api.post("/v1/coupons", b.admin, json(body))
                #expect([400, 422].contains(refused.status) && refused.json["param"] as? String == field, "\(body): \(refused.text)")
            }
            let taxRefusals: [([String: Any], String)] = [
                (["display_name": "VAT", "percentage": 0, "inclusive": false], "percentage"),
                (["display_name": "VAT", "percentage": 100.5, "inclusive": false], "percentage"),
                (["display_name": "VAT", "percentage": 19.12345, "inclusive": false], "percentage"),
                (["display_name": "VAT", "percentage": 19], "inclusive"),
                (["display_name": "VAT", "percentage": 19, "inclusive": false, "country": "de"], "country"),
            ]
            for (body, field) in taxRefusals {
                let refused = try await api.post("/v1/tax-rates", b.admin, json(body))
                #expect([400, 422].contains(refused.status) && refused.json["param"] as? String == field, "\(body): \(refused.text)")
            }
            #expect(try await b.h.database.collection("coupons", as: BSONDocument.self).count([:]) == 0)
            #expect(try await b.h.database.collection("tax_rates", as: BSONDocument.self).count([:]) == 0)

            let coupon = try await api.post(
                "/v1/coupons", b.admin,
                json(["name": "Launch", "percent_off": 12.5, "duration": "repeating", "duration_in_months": 3, "max_redemptions": 100]))
            #expect(coupon.status == 201, "\(coupon.text)")
            #expect(coupon.string("object") == "coupon" && coupon.json["percent_off"] as? Double == 12.5)
            #expect(coupon.json["times_redeemed"] as? Int == 0 && coupon.json["valid"] as? Bool == true)
            let couponID = try #require(coupon.string("id"))
            let fixed = try await api.post(
                "/v1/coupons", b.admin, json(["amount_off": "5.00", "currency": "EUR", "duration": "once"]))
            #expect(fixed.status == 201 && fixed.string("amount_off") == "5.00" && fixed.string("currency") == "EUR", "\(fixed.text)")
            let vat = try await api.post(
                "/v1/tax-rates", b.admin, json(["display_name": "VAT", "percentage": 19, "inclusive": false, "country": "DE"]))
            #expect(vat.status == 201 && vat.json["percentage"] as? Int == 19 && vat.string("country") == "DE", "\(vat.text)")
            let vatID = try #require(vat.string("id"))

            // Customers neither read nor write the catalogue of adjustments.
            let (customer, _) = try await b.customer("Eve")
            let eve = try await b.h.customer(customer, tenant: "t1")
            #expect(try await api.post("/v1/coupons", eve, json(["percent_off": 100, "duration": "forever"])).status == 403)
            #expect(try await api.get("/v1/coupons/\(couponID)", eve).status == 403)
            #expect(try await api.get("/v1/tax-rates", eve).status == 403)
            // Another tenant's admin sees none of them.
            let other = try await b.h.admin(tenant: "t2")
            #expect(try await api.get("/v1/coupons/\(couponID)", other).status == 404)
            #expect(try await api.get("/v1/tax-rates/\(vatID)", other).status == 404)

            let listed = try await api.get("/v1/coupons", b.admin)
            #expect((listed.json["data"] as? [[String: Any]])?.count == 2)
            let archived = try await api.patch("/v1/tax-rates/\(vatID)", b.admin, json(["active": false, "display_name": "MwSt"]))
            #expect(archived.status == 200 && archived.json["active"] as? Bool == false && archived.string("display_name") == "MwSt")
            #expect(archived.json["percentage"] as? Int == 19)
            let inactive = try await api.get("/v1/tax-rates?active=false", b.admin)
            #expect((inactive.json["data"] as? [[String: Any]])?.map { $0["id"] as? String } == [vatID])
            #expect(((try await api.get("/v1/tax-rates?active=true", b.admin)).json["data"] as? [Any])?.isEmpty == true)

            let deleted = try await api.delete("/v1/coupons/\(couponID)", b.admin)
            #expect(deleted.status == 200 && deleted.json["valid"] as? Bool == false, "\(deleted.text)")
            #expect(try await api.get("/v1/coupons/\(couponID)", b.admin).status == 404)
            #expect(try await api.delete("/v1/coupons/\(couponID)", b.admin).status == 200)  // idempotent
            #expect((try await api.get("/v1/coupons", b.admin).json["data"] as? [[String: Any]])?.count == 1)
            try BillingYearTests.expectEventsMatchSchemas(try await b.h.outbox())
            let types = try await b.h.outbox().compactMap { entry -> String? in
                try? MessageCoding.decode(Envelope.self, from: entry["envelope"]?.stringValue ?? "").type
            }
            for type in ["coupon.created", "coupon.deleted", "tax_rate.created", "tax_rate.updated"] {
                #expect(types.contains(type), "\(type) emitted")
            }
        }
    }

    @Test func invoicesTakeTheDiscountBeforeTaxPerLineAndOnceRepeatingForeverEndWhenTheySay() async throws {
        try await BillingYearTests.withBilling { b in
            let api = b.api
            let day = Expect.day
            let basic = try await b.plan("Basic", "10.00", "USD", "month")
            let pro = try await b.plan("Pro", "30.00", "USD", "month")
            let vat = try #require(
                try await api.post("/v1/tax-rates", b.admin, json(["display_name": "VAT", "percentage": 19, "inclusive": false]))
                    .string("id"))
            let gst = try #require(
                try await api.post("/v1/tax-rates", b.admin, json(["display_name": "GST", "percentage": 10, "inclusive": true]))
                    .string("id"))
            func coupon(_ body: [String: Any]) async throws -> String {
                let created = try await api.post("/v1/coupons", b.admin, json(body))
                #expect(created.status == 201, "\(created.text)")
                return try #require(created.string("id"))
            }
            let quarter = try await coupon(["percent_off": 25, "duration": "repeating", "duration_in_months": 3])
            let fiveOff = try await coupon(["amount_off": "5.00", "currency": "USD", "duration": "once"])
            let tenForever = try await coupon(["percent_off": 10, "duration": "forever"])
            let euros = try await coupon(["amount_off": "5.00", "currency": "EUR", "duration": "once"])

            // Jan 31. A: Basic, 25 % for three months, VAT 19 % on top.
            let (a, _) = try await b.customer("Ann")
            let subA = try await api.post(
                "/v1/subscriptions", b.admin, json(["customer_id": a, "plan_id": basic, "coupon": quarter, "default_tax_rates": [vat]]))
            #expect(subA.status == 201, "\(subA.text)")
            let discountA = try #require(subA.json["discount"] as? [String: Any])
            #expect(discountA["coupon"] as? String == quarter && discountA["end"] as? String == "2024-04-30T00:00:00.000Z")
            #expect(subA.json["default_tax_rates"] as? [String] == [vat])
            // B: Pro, 5.00 off once, GST 10 % inside the price.
            let (bee, _) = try await b.customer("Bob")
            let subB = try await api.post(
                "/v1/subscriptions", b.admin, json(["customer_id": bee, "plan_id": pro, "coupon": fiveOff, "default_tax_rates": [gst]]))
            #expect(subB.status == 201, "\(subB.text)")
            #expect(subB.json["discount"] is NSNull, "a once coupon is spent by the first invoice")
            let subBID = try #require(subB.string("id"))
            // C: Basic with VAT; a forever coupon comes later.
            let (c, _) = try await b.customer("Cyd")
            let subC = try await api.post(
                "/v1/subscriptions", b.admin, json(["customer_id": c, "plan_id": basic, "default_tax_rates": [vat]]))
            let subCID = try #require(subC.string("id"))
            // D subscribes itself at checkout with a coupon (a customer may), but not with tax rates.
            let (d, _) = try await b.customer("Dee")
            let dee = try await b.h.customer(d, tenant: "t1")
            let taxedByCustomer = try await api.post("/v1/subscriptions", dee, json(["plan_id": basic, "default_tax_rates": [vat]]))
            #expect(taxedByCustomer.status == 403 && taxedByCustomer.json["param"] as? String == "default_tax_rates")
            let checkout = try await api.post("/v1/subscriptions", dee, json(["plan_id": basic, "coupon": tenForever]))
            #expect(checkout.status == 201 && (checkout.json["discount"] as? [String: Any])?["coupon"] as? String == tenForever)
            let subD = try #require(checkout.string("id"))
            let later = try await api.patch("/v1/subscriptions/\(subD)", dee, json(["coupon": quarter]))
            #expect(later.status == 403 && later.json["param"] as? String == "coupon", "\(later.text)")
            // Refused: a coupon in another currency, an unknown or repeated tax rate, an unknown coupon.
            let (e, _) = try await b.customer("Eli")
            let wrongCurrency = try await api.post("/v1/subscriptions", b.admin, json(["customer_id": e, "plan_id": basic, "coupon": euros]))
            #expect(wrongCurrency.status == 422 && wrongCurrency.json["param"] as? String == "coupon", "\(wrongCurrency.text)")
            let unknownRate = try await api.post(
                "/v1/subscriptions", b.admin, json(["customer_id": e, "plan_id": basic, "default_tax_rates": [vat, "txr_nope"]]))
            #expect(unknownRate.status == 422 && unknownRate.json["param"] as? String == "default_tax_rates[1]", "\(unknownRate.text)")
            let twice = try await api.post(
                "/v1/subscriptions", b.admin, json(["customer_id": e, "plan_id": basic, "default_tax_rates": [vat, vat]]))
            #expect(twice.status == 422 && twice.json["param"] as? String == "default_tax_rates[1]", "\(twice.text)")
            #expect(try await api.post("/v1/subscriptions", b.admin, json(["customer_id": e, "plan_id": basic, "coupon": "co_nope"])).status == 404)
            #expect(try await b.invoices(e).isEmpty, "nothing of a refused subscription is written")

            // Feb 10: B cancels with a prorated credit of what it paid for the period (25.00 after the
            // coupon, GST inside), not of the 30.00 price; C gets 10 % forever.
            try await b.advance(to: "2024-02-10T00:00:00Z")
            let canceled = try await api.post("/v1/subscriptions/\(subBID)/cancel", b.admin, json(["prorate": true]))
            #expect(canceled.status == 200, "\(canceled.text)")
            let balance = try await b.h.database.collection("customer_balances", as: BSONDocument.self).findOne([
                "customer_id": .string(bee)
            ])
            let credit = Expect.prorate(2500, unused: 19 * day, period: 29 * day)
            #expect(balance?["credit"]?.decimalValue.map { "\($0)" } == Expect.text(credit, exponent: 2))
            let patched = try await api.patch("/v1/subscriptions/\(subCID)", b.admin, json(["coupon": tenForever]))
            #expect(patched.status == 200 && (patched.json["discount"] as? [String: Any])?["duration"] as? String == "forever")

            try await b.advance(to: "2024-05-01T00:00:00Z")

            // Each invoice, line by line, from the rules: discount per line, then tax on what is left.
            func expected(_ price: Int, percentOff: Int? = nil, amountOff: Int? = nil, tax: Int, inclusive: Bool)
                -> (discount: Int, tax: Int, total: Int)
            {
                let discount = percentOff.map { share(price, $0, 100) } ?? amountOff.map { min($0, price) } ?? 0
                let taxable = price - discount
                let taxAmount = inclusive ? share(taxable, tax, 100 + tax) : share(taxable, tax, 100)
                return (discount, taxAmount, taxable + (inclusive ? 0 : taxAmount))
            }
            let ann = (0..<3).map { _ in expected(1000, percentOff: 25, tax: 19, inclusive: false) }
                + [expected(1000, tax: 19, inclusive: false)]
            #expect(ann.first?.total == 893)  // 10.00 − 2.50, + 1.425 → 1.43
            try await checkInvoices(b, a, ann, taxRate: vat)
            try await checkInvoices(b, bee, [expected(3000, amountOff: 500, tax: 10, inclusive: true)], taxRate: gst)
            let cyd = [expected(1000, tax: 19, inclusive: false)]
                + (0..<3).map { _ in expected(1000, percentOff: 10, tax: 19, inclusive: false) }
            try await checkInvoices(b, c, cyd, taxRate: vat)
            #expect(try await b.subscription(try #require(subA.string("id")))["discount"] is NSNull, "the repeating discount ended")
            #expect((try await b.subscription(subCID)["discount"] as? [String: Any])?["coupon"] as? String == tenForever)
        }
    }

    /// Each invoice's discount, tax and total as `expected`; the total is `subtotal − discount + tax`
    /// and the sum of the lines' nets; `total_tax_amounts` names the rate; paid in full.
    func checkInvoices(
        _ b: Billing, _ customer: String, _ expected: [(discount: Int, tax: Int, total: Int)], taxRate: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let invoices = try await b.invoices(customer)
        #expect(invoices.count == expected.count, "\(invoices.count) invoices", sourceLocation: sourceLocation)
        for (index, (invoice, want)) in zip(invoices, expected).enumerated() {
            let m = { (key: String) in Expect.minor(invoice[key] as? String, exponent: 2) }
            #expect(m("discount_amount") == want.discount, "invoice \(index) discount", sourceLocation: sourceLocation)
            let taxes = invoice["total_tax_amounts"] as? [[String: Any]] ?? []
            #expect(taxes.map { $0["tax_rate"] as? String } == [taxRate], sourceLocation: sourceLocation)
            #expect(
                taxes.map { Expect.minor($0["amount"] as? String, exponent: 2) } == [want.tax], "invoice \(index) tax",
                sourceLocation: sourceLocation)
            #expect(m("total") == want.total, "invoice \(index) total", sourceLocation: sourceLocation)
            let exclusive = taxes.first?["inclusive"] as? Bool == false ? want.tax : 0
            #expect(m("tax") == exclusive, sourceLocation: sourceLocation)
            #expect(
                (m("subtotal") ?? 0) - (m("discount_amount") ?? 0) + (m("tax") ?? 0) == m("total"), sourceLocation: sourceLocation)
            let lines = invoice["lines"] as? [[String: Any]] ?? []
            let nets = lines.map { line -> Int in
                let amount = Expect.minor(line["amount"] as? String, exponent: 2) ?? 0
                let discount = Expect.minor(line["discount_amount"] as? String, exponent: 2) ?? 0
                let lineTaxes = line["tax_amounts"] as? [[String: Any]] ?? []
                let added = lineTaxes.filter { $0["inclusive"] as? Bool == false }
                    .compactMap { Expect.minor($0["amount"] as? String, exponent: 2) }.reduce(0, +)
                return amount - discount + added
            }
            #expect(nets.reduce(0, +) == m("total"), "invoice \(index): lines sum to the total", sourceLocation: sourceLocation)
            if want.discount > 0 {
                #expect(
                    (invoice["total_discount_amounts"] as? [[String: Any]])?.count == 1, sourceLocation: sourceLocation)
            }
            #expect(invoice["status"] as? String == "paid" && m("amount_paid") == m("amount_due"), sourceLocation: sourceLocation)
        }
    }

    @Test func maxRedemptionsHoldsUnderConcurrentSubscriptions() async throws {
        try await BillingYearTests.withBilling { b in
            let basic = try await b.plan("Basic", "10.00", "USD", "month")
            let limited = try await b.api.post(
                "/v1/coupons", b.admin, json(["percent_off": 50, "duration": "once", "max_redemptions": 3]))
            let coupon = try #require(limited.string("id"))
            var customers: [String] = []
            for index in 0..<8 { customers.append(try await b.customer("Racer\(index)").0) }
            let api = b.api
            let admin = b.admin
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for customer in customers {
                    group.addTask {
                        try await api.post("/v1/subscriptions", admin, json(["customer_id": customer, "plan_id": basic, "coupon": coupon]))
                            .status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 201 }.count == 3, "\(statuses.sorted())")
            #expect(statuses.filter { $0 == 409 }.count == 5, "\(statuses.sorted())")
            let read = try await b.api.get("/v1/coupons/\(coupon)", b.admin)
            #expect(read.json["times_redeemed"] as? Int == 3 && read.json["valid"] as? Bool == false, "\(read.text)")
        }
    }
}

@Suite("Credit notes and refunds, through the gateway")
struct CreditNoteRouteTests {
    @Test func creditNotesRefundCreditOrLowerWhatIsDueNeverMoreThanTheInvoiceAndVoidAsTheyCan() async throws {
        try await BillingYearTests.withBilling { b in
            let api = b.api
            let plan = try await b.plan("Team", "30.00", "USD", "month")
            let vat = try #require(
                try await api.post("/v1/tax-rates", b.admin, json(["display_name": "VAT", "percentage": 10, "inclusive": false]))
                    .string("id"))
            func note(_ body: [String: Any]) async throws -> API.Answer {
                try await api.post("/v1/credit-notes", b.admin, json(body))
            }
            // A paid invoice of 33.00 (30.00 + 10 % VAT).
            let (ann, _) = try await b.customer("Ann")
            _ = try await api.post(
                "/v1/subscriptions", b.admin, json(["customer_id": ann, "plan_id": plan, "default_tax_rates": [vat]]))
            let paid = try #require(try await b.invoices(ann).first)
            let paidID = try #require(paid["id"] as? String)
            #expect(paid["total"] as? String == "33.00" && paid["status"] as? String == "paid")

            let refunded = try await note(["invoice": paidID, "amount": "11.00", "refund": true, "reason": "order_change"])
            #expect(refunded.status == 201 && refunded.string("effect") == "refund", "\(refunded.text)")
            #expect(refunded.string("number") == "CN-000001" && (refunded.string("refund") ?? "").hasPrefix("re_"))
            let tooMuch = try await note(["invoice": paidID, "amount": "22.01", "refund": true])
            #expect(tooMuch.status == 422 && tooMuch.json["param"] as? String == "amount", "\(tooMuch.text)")
            let toBalance = try await note(["invoice": paidID, "lines": [["line": 0, "amount": "5.00"]]])
            #expect(toBalance.status == 201 && toBalance.string("effect") == "customer_balance", "\(toBalance.text)")
            #expect(toBalance.string("number") == "CN-000002" && toBalance.string("amount") == "5.00")
            let badLine = try await note(["invoice": paidID, "lines": [["line": 0, "amount": "33.01"]]])
            #expect(badLine.status == 422 && badLine.json["param"] as? String == "lines[0].amount", "\(badLine.text)")
            let noLine = try await note(["invoice": paidID, "lines": [["line": 3, "amount": "1.00"]]])
            #expect(noLine.status == 422 && noLine.json["param"] as? String == "lines[0].line", "\(noLine.text)")
            let both = try await note(["invoice": paidID, "amount": "1.00", "lines": [["line": 0, "amount": "1.00"]]])
            #expect(both.status == 422 && both.json["param"] as? String == "lines", "\(both.text)")
            // Never more than the total less earlier notes: 33.00 − 16.00.
            let beyondTotal = try await note(["invoice": paidID, "amount": "17.01"])
            #expect(beyondTotal.status == 422 && beyondTotal.json["param"] as? String == "amount", "\(beyondTotal.text)")

            var invoice = try await api.get("/v1/invoices/\(paidID)", b.admin)
            #expect(invoice.string("amount_credited") == "16.00" && invoice.string("amount_refunded") == "11.00", "\(invoice.text)")
            // Payments minus refunds equal what the invoice kept.
            let payments = try await b.h.database.collection("payments", as: BSONDocument.self).find([
                "invoice_id": .string(paidID), "status": "succeeded",
            ])
            let refunds = try await b.h.database.collection("refunds", as: BSONDocument.self).find(["invoice_id": .string(paidID)])
            let charged = payments.compactMap { $0["amount"]?.decimalValue }.reduce(Decimal(0), +)
            let returned = refunds.compactMap { $0["amount"]?.decimalValue }.reduce(Decimal(0), +)
            #expect(charged == Decimal(33) && returned == Decimal(11))
            let kept = (Expect.minor(invoice.string("amount_paid"), exponent: 2) ?? 0)
                - (Expect.minor(invoice.string("amount_refunded"), exponent: 2) ?? 0)
            #expect(Expect.text(kept, exponent: 2) == "\(charged - returned).00")
            func balance(_ customer: String) async throws -> String? {
                try await b.h.database.collection("customer_balances", as: BSONDocument.self).findOne([
                    "customer_id": .string(customer)
                ])?["credit"]?.decimalValue.map { "\($0)" }
            }
            #expect(try await balance(ann) == "5")

            // Voids: the balance note gives its credit back; a refund cannot be undone.
            let voided = try await api.post("/v1/credit-notes/\(try #require(toBalance.string("id")))/void", b.admin)
            #expect(voided.status == 200 && voided.string("status") == "void" && voided.string("voided_at") != nil, "\(voided.text)")
            #expect(try await balance(ann) == "0")
            let refundVoid = try await api.post("/v1/credit-notes/\(try #require(refunded.string("id")))/void", b.admin)
            #expect(refundVoid.status == 409 && refundVoid.json["code"] as? String == "credit_note_refunded", "\(refundVoid.text)")
            invoice = try await api.get("/v1/invoices/\(paidID)", b.admin)
            #expect(invoice.string("amount_credited") == "11.00")

            // An unpaid invoice: the note lowers what is due; voided, it is due again; a note for the
            // rest settles it and the subscription follows.
            let (bob, _) = try await b.customer("Bob", token: "pm_card_chargeDeclined")
            let incomplete = try await api.post(
                "/v1/subscriptions", b.admin, json(["customer_id": bob, "plan_id": plan, "default_tax_rates": [vat]]))
            #expect(incomplete.string("status") == "incomplete", "\(incomplete.text)")
            let open = try #require(try await b.invoices(bob).first?["id"] as? String)
            let refundUnpaid = try await note(["invoice": open, "amount": "10.00", "refund": true])
            #expect(refundUnpaid.status == 422 && refundUnpaid.json["param"] as? String == "refund", "\(refundUnpaid.text)")
            let lowered = try await note(["invoice": open, "amount": "10.00", "reason": "duplicate"])
            #expect(lowered.status == 201 && lowered.string("effect") == "lowers_amount_due", "\(lowered.text)")
            invoice = try await api.get("/v1/invoices/\(open)", b.admin)
            #expect(invoice.string("amount_due") == "23.00" && invoice.string("amount_remaining") == "23.00", "\(invoice.text)")
            _ = try await api.post("/v1/credit-notes/\(try #require(lowered.string("id")))/void", b.admin)
            invoice = try await api.get("/v1/invoices/\(open)", b.admin)
            #expect(invoice.string("amount_due") == "33.00" && invoice.string("amount_credited") == "0.00", "\(invoice.text)")
            let settling = try await note(["invoice": open, "amount": "33.00"])
            #expect(settling.status == 201 && settling.string("number") == "CN-000004", "numbers are gapless: \(settling.text)")
            invoice = try await api.get("/v1/invoices/\(open)", b.admin)
            #expect(invoice.string("status") == "paid" && invoice.string("amount_remaining") == "0.00", "\(invoice.text)")
            #expect(try await b.subscription(try #require(incomplete.string("id")))["status"] as? String == "active")
            let onVoid = try await note(["invoice": open, "amount": "1.00"])
            #expect(onVoid.status == 422 && onVoid.json["param"] as? String == "amount", "nothing left to credit: \(onVoid.text)")

            // Customers read their own notes and issue none.
            let me = try await b.h.customer(bob, tenant: "t1")
            let mine = try await api.get("/v1/credit-notes", me)
            #expect((mine.json["data"] as? [[String: Any]])?.allSatisfy { $0["customer_id"] as? String == bob } == true)
            #expect((mine.json["data"] as? [[String: Any]])?.count == 2)
            #expect(try await api.get("/v1/credit-notes/\(try #require(refunded.string("id")))", me).status == 404)
            #expect(try await api.post("/v1/credit-notes", me, json(["invoice": open, "amount": "1.00"])).status == 403)
            try BillingYearTests.expectEventsMatchSchemas(try await b.h.outbox())
            let types = try await b.h.outbox().compactMap { entry -> String? in
                try? MessageCoding.decode(Envelope.self, from: entry["envelope"]?.stringValue ?? "").type
            }
            for type in ["credit_note.created", "credit_note.voided", "charge.refunded"] {
                #expect(types.contains(type), "\(type) emitted")
            }
        }
    }
}

@Suite("The upcoming invoice preview, through the gateway")
struct UpcomingInvoiceTests {
    /// The figures a preview and an invoice share.
    static func figures(_ invoice: [String: Any]) -> [String] {
        let lines = (invoice["lines"] as? [[String: Any]] ?? []).map {
            "\($0["description"] ?? "") \($0["amount"] ?? "") -\($0["discount_amount"] ?? "") +\(($0["tax_amounts"] as? [[String: Any]])?.map { "\($0["amount"] ?? "")" } ?? [])"
        }
        return lines + ["subtotal", "discount_amount", "tax", "total", "credit_applied", "amount_due", "billing_reason"].map {
            "\($0)=\(invoice[$0] ?? "nil")"
        }
    }

    @Test func aPreviewEqualsTheInvoiceLaterMadeForARenewalAndForAPlanChangeAndChangesNothing() async throws {
        try await BillingYearTests.withBilling { b in
            let api = b.api
            let basic = try await b.plan("Basic", "10.00", "USD", "month")
            let pro = try await b.plan("Pro", "30.00", "USD", "month")
            let vat = try #require(
                try await api.post("/v1/tax-rates", b.admin, json(["display_name": "VAT", "percentage": 19, "inclusive": false]))
                    .string("id"))
            let coupon = try #require(
                try await api.post("/v1/coupons", b.admin, json(["percent_off": 20, "duration": "forever"])).string("id"))
            let (ann, _) = try await b.customer("Ann")
            let created = try await api.post(
                "/v1/subscriptions", b.admin,
                json(["customer_id": ann, "plan_id": basic, "coupon": coupon, "default_tax_rates": [vat]]))
            let sub = try #require(created.string("id"))
            let me = try await b.h.customer(ann, tenant: "t1")

            // The renewal on Feb 29, previewed by the customer on Jan 31.
            let renewal = try await api.get("/v1/invoices/upcoming?subscription=\(sub)", me)
            #expect(renewal.status == 200 && renewal.string("object") == "upcoming_invoice", "\(renewal.text)")
            #expect(renewal.string("issues_at") == "2024-02-29T00:00:00.000Z" && renewal.string("total") == "9.52", "\(renewal.text)")
            let before = try await b.invoices(ann).count
            #expect(before == 1, "a preview writes nothing")

            // A change to Pro on Feb 10, previewed, then made.
            try await b.advance(to: "2024-02-10T00:00:00Z")
            let change = try await api.get("/v1/invoices/upcoming?subscription=\(sub)&plan=\(pro)", me)
            #expect(change.status == 200 && change.string("billing_reason") == "subscription_update", "\(change.text)")
            #expect((change.json["lines"] as? [Any])?.count == 2)
            #expect(try await b.subscription(sub)["plan_id"] as? String == basic, "a preview changes nothing")
            let changed = try await api.post("/v1/subscriptions/\(sub)/change-plan", me, json(["plan_id": pro]))
            #expect(changed.status == 200, "\(changed.text)")
            let afterChange = try await b.invoices(ann)
            #expect(afterChange.count == 2)
            #expect(Self.figures(try #require(afterChange.last)) == Self.figures(change.json))

            // The next renewal, previewed, then made by the clock.
            let next = try await api.get("/v1/invoices/upcoming?subscription=\(sub)", b.admin)
            try await b.advance(to: "2024-03-01T00:00:00Z")
            let renewed = try await b.invoices(ann)
            #expect(renewed.count == 3)
            #expect(Self.figures(try #require(renewed.last)) == Self.figures(next.json))
            #expect(next.string("total") == "28.56", "30.00 − 20 % = 24.00, + 19 % VAT 4.56")

            // Another customer's subscription is not found; a canceled one has no upcoming invoice.
            let (bob, _) = try await b.customer("Bob")
            let bobMe = try await b.h.customer(bob, tenant: "t1")
            #expect(try await api.get("/v1/invoices/upcoming?subscription=\(sub)", bobMe).status == 404)
            _ = try await api.post("/v1/subscriptions/\(sub)/cancel", b.admin, json([:]))
            let none = try await api.get("/v1/invoices/upcoming?subscription=\(sub)", b.admin)
            #expect(none.status == 404 && none.json["code"] as? String == "invoice_upcoming_none", "\(none.text)")
            let missing = try await api.get("/v1/invoices/upcoming", b.admin)
            #expect(missing.status == 400 && missing.json["param"] as? String == "subscription", "\(missing.text)")
        }
    }
}

@Suite("Net terms: invoices sent for payment by their due date")
struct NetTermsTests {
    @Test func sendInvoiceSubscriptionsAreActiveNeverChargedAndDueByTheirTerms() async throws {
        try await BillingYearTests.withBilling { b in
            let api = b.api
            let plan = try await b.plan("Enterprise", "100.00", "USD", "month")
            // A customer with no payment method: net terms need none.
            let created = try await api.post(
                "/v1/customers", b.admin, json(["name": "Acme", "email": "ap@acme.example", "test_clock": b.clock]))
            let acme = try #require(created.string("id"))
            let noDays = try await api.post(
                "/v1/subscriptions", b.admin, json(["customer_id": acme, "plan_id": plan, "collection_method": "send_invoice"]))
            #expect(noDays.status == 422 && noDays.json["param"] as? String == "days_until_due", "\(noDays.text)")
            let daysAlone = try await api.post(
                "/v1/subscriptions", b.admin, json(["customer_id": acme, "plan_id": plan, "days_until_due": 30]))
            #expect(daysAlone.status == 422 && daysAlone.json["param"] as? String == "days_until_due", "\(daysAlone.text)")
            let me = try await b.h.customer(acme, tenant: "t1")
            let byCustomer = try await api.post(
                "/v1/subscriptions", me, json(["plan_id": plan, "collection_method": "send_invoice", "days_until_due": 30]))
            #expect(byCustomer.status == 403 && byCustomer.json["param"] as? String == "collection_method", "\(byCustomer.text)")

            let subscribed = try await api.post(
                "/v1/subscriptions", b.admin,
                json(["customer_id": acme, "plan_id": plan, "collection_method": "send_invoice", "days_until_due": 30]))
            #expect(subscribed.status == 201 && subscribed.string("status") == "active", "\(subscribed.text)")
            #expect(subscribed.string("collection_method") == "send_invoice" && subscribed.json["days_until_due"] as? Int == 30)
            let sub = try #require(subscribed.string("id"))
            var invoices = try await b.invoices(acme)
            let first = try #require(invoices.first)
            #expect(first["status"] as? String == "open" && first["collection_method"] as? String == "send_invoice")
            #expect(first["issued_at"] as? String == "2024-01-31T00:00:00.000Z" && first["due_at"] as? String == "2024-03-01T00:00:00.000Z")
            #expect(first["attempt_count"] as? Int == 0 && first["next_payment_attempt"] is NSNull)
            #expect(try await b.h.database.collection("payments", as: BSONDocument.self).count(["customer_id": .string(acme)]) == 0)

            // The renewal is sent too; the unpaid first invoice does not make the subscription past due.
            try await b.advance(to: "2024-02-29T12:00:00Z")
            invoices = try await b.invoices(acme)
            #expect(invoices.count == 2 && invoices.allSatisfy { $0["status"] as? String == "open" })
            #expect(invoices.last?["due_at"] as? String == "2024-03-30T00:00:00.000Z")
            #expect(try await b.subscription(sub)["status"] as? String == "active")
            // The customer pays when it chooses, with a card added for it.
            _ = try await api.post("/v1/payment-methods", b.admin, json(["customer_id": acme, "token": "pm_card_visa"]))
            let paid = try await api.post("/v1/invoices/\(try #require(first["id"] as? String))/pay", me)
            #expect(paid.status == 200 && paid.string("status") == "paid", "\(paid.text)")

            // Back to automatic charges: the next invoice is charged and due at once.
            let automatic = try await api.patch("/v1/subscriptions/\(sub)", b.admin, json(["collection_method": "charge_automatically"]))
            #expect(automatic.status == 200 && automatic.json["days_until_due"] is NSNull, "\(automatic.text)")
            try await b.advance(to: "2024-03-31T12:00:00Z")
            // The second invoice fell due on Mar 30 unpaid: reminders (the due date, then the dunning
            // schedule), the subscription past due meanwhile; nothing was charged for it.
            let second = try #require(invoices.last?["id"] as? String)
            let events = try await b.h.outbox().compactMap { entry in
                try? MessageCoding.decode(Envelope.self, from: entry["envelope"]?.stringValue ?? "")
            }
            let overdue = events.filter { $0.type == "invoice.overdue" && $0.payload["id"]?.stringValue == second }
            #expect(overdue.first?.payload["reminder"] == .number("1") && overdue.first?.payload["due_at"] == "2024-03-30T00:00:00.000Z")
            #expect(!events.contains { $0.type == "invoice.overdue" && $0.payload["id"]?.stringValue == first["id"] as? String })
            #expect(events.contains { $0.type == "subscription.past_due" })
            #expect(try await api.get("/v1/invoices/\(second)", b.admin).json["attempt_count"] as? Int == 0)
            try BillingYearTests.expectEventsMatchSchemas(try await b.h.outbox())
            let third = try #require(try await b.invoices(acme).last)
            #expect(third["status"] as? String == "paid" && third["collection_method"] as? String == "charge_automatically")
            #expect(third["due_at"] as? String == third["issued_at"] as? String)
            // The core fields are stored even when empty (the validator requires them).
            let stored = try #require(
                try await b.h.database.collection("invoices", as: BSONDocument.self).findOne(["_id": .string(third["id"] as? String ?? "")]))
            for field in ["subscription_id", "number", "issued_at", "due_at", "next_payment_attempt"] {
                #expect(stored[field] != nil, "\(field) is stored")
            }
        }
    }
}

@Suite("One-off charges: invoice items and manual invoices")
struct OneOffChargeTests {
    @Test func pendingItemsRideOnTheNextCycleInvoiceOrAManualInvoiceThatIsDraftedThenFinalised() async throws {
        try await BillingYearTests.withBilling { b in
            let api = b.api
            let plan = try await b.plan("Basic", "10.00", "USD", "month")
            let vat = try #require(
                try await api.post("/v1/tax-rates", b.admin, json(["display_name": "VAT", "percentage": 10, "inclusive": false]))
                    .string("id"))
            let (ann, _) = try await b.customer("Ann")
            let sub = try #require(try await b.subscribe(ann, plan)["id"] as? String)
            func item(_ body: [String: Any]) async throws -> API.Answer {
                try await api.post("/v1/invoice-items", b.admin, json(body))
            }
            // Items for the subscription's next cycle invoice: a setup fee twice, and a credit.
            let setup = try await item([
                "customer_id": ann, "description": "Onboarding hours", "unit_amount": "12.50", "quantity": 2, "currency": "USD",
                "subscription_id": sub,
            ])
            #expect(setup.status == 201 && setup.string("amount") == "25.00" && setup.json["invoice"] is NSNull, "\(setup.text)")
            let goodwill = try await item(["customer_id": ann, "description": "Goodwill", "unit_amount": "-5.00", "currency": "USD"])
            #expect(goodwill.status == 201 && goodwill.string("amount") == "-5.00", "\(goodwill.text)")
            let wrongCurrency = try await item([
                "customer_id": ann, "description": "x", "unit_amount": "1.00", "currency": "EUR", "subscription_id": sub,
            ])
            #expect(wrongCurrency.status == 422 && wrongCurrency.json["param"] as? String == "currency", "\(wrongCurrency.text)")
            let tooPrecise = try await item(["customer_id": ann, "description": "x", "unit_amount": "1.001", "currency": "USD"])
            #expect(tooPrecise.status == 422 && tooPrecise.json["param"] as? String == "unit_amount", "\(tooPrecise.text)")
            let pending = try await api.get("/v1/invoice-items?customer_id=\(ann)&pending=true", b.admin)
            #expect((pending.json["data"] as? [Any])?.count == 2)

            // The preview shows them; the renewal carries them: 10.00 + 25.00 − 5.00.
            let preview = try await api.get("/v1/invoices/upcoming?subscription=\(sub)", b.admin)
            #expect(preview.string("total") == "30.00" && (preview.json["lines"] as? [Any])?.count == 3, "\(preview.text)")
            try await b.advance(to: "2024-02-29T12:00:00Z")
            let renewal = try #require(try await b.invoices(ann).last)
            #expect(renewal["total"] as? String == "30.00" && (renewal["lines"] as? [Any])?.count == 3)
            #expect(UpcomingInvoiceTests.figures(renewal) == UpcomingInvoiceTests.figures(preview.json))
            let invoiced = try await api.get("/v1/invoice-items?customer_id=\(ann)&pending=false", b.admin)
            #expect((invoiced.json["data"] as? [[String: Any]])?.allSatisfy { $0["invoice"] as? String == renewal["id"] as? String } == true)
            let late = try await api.delete("/v1/invoice-items/\(try #require(setup.string("id")))", b.admin)
            #expect(late.status == 409 && late.json["code"] as? String == "invoice_item_invoiced", "\(late.text)")

            // A manual invoice: nothing pending is a 422; items in, a draft out (no number), then
            // finalised on net terms with tax.
            let empty = try await api.post("/v1/invoices", b.admin, json(["customer_id": ann, "currency": "USD"]))
            #expect(empty.status == 422 && empty.json["param"] as? String == "customer_id", "\(empty.text)")
            _ = try await item(["customer_id": ann, "description": "Custom report", "unit_amount": "200.00", "currency": "USD"])
            let removed = try await item(["customer_id": ann, "description": "Typo", "unit_amount": "1.00", "currency": "USD"])
            #expect(try await api.delete("/v1/invoice-items/\(try #require(removed.string("id")))", b.admin).status == 200)
            let drafted = try await api.post(
                "/v1/invoices", b.admin,
                json(["customer_id": ann, "currency": "USD", "collection_method": "send_invoice", "days_until_due": 14, "default_tax_rates": [vat]]))
            #expect(drafted.status == 201 && drafted.string("status") == "draft" && drafted.json["number"] is NSNull, "\(drafted.text)")
            #expect(drafted.string("total") == "220.00" && drafted.json["subscription_id"] is NSNull && drafted.string("billing_reason") == "manual")
            let draftID = try #require(drafted.string("id"))
            let finalized = try await api.post("/v1/invoices/\(draftID)/finalize", b.admin)
            #expect(finalized.status == 200 && finalized.string("status") == "open", "\(finalized.text)")
            #expect((finalized.string("number") ?? "").hasPrefix("INV-") && finalized.string("amount_due") == "220.00")
            #expect(finalized.string("due_at") == "2024-03-14T12:00:00.000Z", "14 days after the clock's time")
            let again = try await api.post("/v1/invoices/\(draftID)/finalize", b.admin)
            #expect(again.status == 409 && again.json["code"] as? String == "invoice_not_draft", "\(again.text)")
            let me = try await b.h.customer(ann, tenant: "t1")
            #expect(try await api.post("/v1/invoices", me, json(["customer_id": ann, "currency": "USD"])).status == 403)
            let paid = try await api.post("/v1/invoices/\(draftID)/pay", me)
            #expect(paid.status == 200 && paid.string("status") == "paid", "\(paid.text)")
            // Invoice numbers stay gapless: the draft took its number only when finalised.
            let numbers = try await b.invoices(ann).compactMap { $0["number"] as? String }.sorted()
            #expect(numbers == (1...numbers.count).map { String(format: "INV-%06d", $0) }, "\(numbers)")
        }
    }
}

@Suite("Invoice numbers under concurrency")
struct DocumentNumberTests {
    /// Two tenants, 25 drafts each, all 50 finalised at once: each tenant's numbers are 1…25 with no
    /// gap and no repeat, whatever the interleaving.
    @Test func fiftyConcurrentFinalizationsLeaveGaplessNumbersPerTenant() async throws {
        try await BillingYearTests.withBilling { b in
            let api = b.api
            var drafts: [(String, HTTPFields)] = []
            for tenant in ["t1", "t2"] {
                let admin = tenant == "t1" ? b.admin : try await b.h.admin(tenant: tenant)
                let customer = try #require(
                    try await api.post("/v1/customers", admin, json(["name": "Buyer", "email": "buyer@\(tenant).example"])).string("id"))
                for index in 0..<25 {
                    let item = try await api.post(
                        "/v1/invoice-items", admin,
                        json(["customer_id": customer, "description": "Item \(index)", "unit_amount": "1.00", "currency": "USD"]))
                    #expect(item.status == 201, "\(item.text)")
                    let draft = try await api.post(
                        "/v1/invoices", admin,
                        json(["customer_id": customer, "currency": "USD", "collection_method": "send_invoice", "days_until_due": 30]))
                    drafts.append((try #require(draft.string("id"), "\(draft.text)"), admin))
                }
            }
            let finalized = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for (id, admin) in drafts {
                    group.addTask {
                        let answer = try await api.post("/v1/invoices/\(id)/finalize", admin)
                        return (answer.status, answer.string("number"))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(finalized.allSatisfy { $0.0 == 200 }, "\(finalized.map(\.0))")
            for tenant in ["t1", "t2"] {
                let numbers = try await b.h.database.collection("invoices", as: BSONDocument.self).find(["tenant_id": .string(tenant)])
                    .compactMap { $0["number"]?.stringValue }.sorted()
                #expect(numbers == (1...25).map { String(format: "INV-%06d", $0) }, "\(tenant): \(numbers)")
            }
        }
    }
}

@Suite("Tenants: created by the operator, settings on invoices, selected on public routes")
struct TenantRouteTests {
    @Test func theOperatorCreatesTenantsWhoseAdminsSetTheirInvoiceSettings() async throws {
        try await BillingYearTests.withBilling { b in
            let api = b.api
            let operatorAdmin = try await b.h.admin(tenant: "default")
            // Only the operator (an admin of the default tenant) creates tenants.
            #expect(try await api.post("/v1/tenants", b.admin, json(["id": "acme", "name": "Acme"])).status == 403)
            let bad = try await api.post("/v1/tenants", operatorAdmin, json(["id": "Acme Inc", "name": "Acme"]))
            #expect(bad.status == 400 && bad.json["param"] as? String == "id", "\(bad.text)")
            let created = try await api.post("/v1/tenants", operatorAdmin, json(["id": "acme", "name": "Acme GmbH"]))
            #expect(created.status == 201 && created.string("invoice_prefix") == "INV", "\(created.text)")
            let again = try await api.post("/v1/tenants", operatorAdmin, json(["id": "acme", "name": "Acme"]))
            #expect(again.status == 409 && again.json["param"] as? String == "id", "\(again.text)")

            // Its admin sets what its invoices show; its customers read it and change nothing.
            let admin = try await b.h.admin(tenant: "acme")
            let settings = try await api.patch(
                "/v1/tenant", admin,
                json([
                    "invoice_prefix": "ACME", "tax_id": "DE123456789", "default_currency": "EUR",
                    "address": ["line1": "Hauptstraße 1", "city": "Berlin", "postal_code": "10115", "country": "DE"],
                ]))
            #expect(settings.status == 200 && settings.string("invoice_prefix") == "ACME", "\(settings.text)")
            #expect((settings.json["address"] as? [String: Any])?["city"] as? String == "Berlin" && settings.string("name") == "Acme GmbH")
            let badPrefix = try await api.patch("/v1/tenant", admin, json(["invoice_prefix": "acme-"]))
            #expect(badPrefix.status == 400 && badPrefix.json["param"] as? String == "invoice_prefix", "\(badPrefix.text)")
            let customer = try #require(
                try await api.post("/v1/customers", admin, json(["name": "Kunde", "email": "kunde@acme.example"])).string("id"))
            let kunde = try await b.h.customer(customer, tenant: "acme")
            #expect(try await api.get("/v1/tenant", kunde).string("tax_id") == "DE123456789")
            #expect(try await api.patch("/v1/tenant", kunde, json(["name": "Mine"])).status == 403)
            // The default tenant has settings before anyone saved them; another tenant's admin sees only its own.
            #expect(try await api.get("/v1/tenant", operatorAdmin).string("id") == "default")
            #expect(try await api.get("/v1/tenant", b.admin).status == 404, "t1 was never created")

            // Acme's invoices carry its prefix; t1's keep INV.
            let plan = try #require(
                try await api.post("/v1/plans", admin, json(["name": "Pro", "price": "50.00", "currency": "EUR", "interval": "month"]))
                    .string("id"))
            _ = try await api.post("/v1/payment-methods", admin, json(["customer_id": customer, "token": "pm_card_visa"]))
            let subscribed = try await api.post("/v1/subscriptions", admin, json(["customer_id": customer, "plan_id": plan]))
            #expect(subscribed.status == 201, "\(subscribed.text)")
            let invoices = try await api.get("/v1/invoices?customer_id=\(customer)", admin)
            #expect((invoices.json["data"] as? [[String: Any]])?.first?["number"] as? String == "ACME-000001", "\(invoices.text)")

            // Public routes: Billing-Tenant picks the tenant; a token's tenant wins over it.
            let tenantHeader = HTTPField.Name("Billing-Tenant")!
            let acmePlans = try await api.get("/v1/plans", [tenantHeader: "acme"])
            #expect((acmePlans.json["data"] as? [[String: Any]])?.map { $0["id"] as? String } == [plan], "\(acmePlans.text)")
            #expect(((try await api.get("/v1/plans")).json["data"] as? [Any])?.isEmpty == true, "the default tenant has no plans")
            let malformed = try await api.get("/v1/plans", [tenantHeader: "no such tenant"])
            #expect(malformed.status == 400 && malformed.json["param"] as? String == "Billing-Tenant", "\(malformed.text)")
            var asT1 = b.admin
            asT1[tenantHeader] = "acme"
            let own = try await api.get("/v1/invoices?customer_id=\(customer)", asT1)
            #expect((own.json["data"] as? [Any])?.isEmpty == true, "a t1 token sees t1's objects whatever the header says")
        }
    }
}
