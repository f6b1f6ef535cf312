import BillingDomain
import Contracts
import Foundation
import MessageBus
import Mongo
import ServiceKit
import WorkerRuntime

// Coupons and tax rates (DESIGN §13): the invoice worker's catalogue of adjustments, and how the
// billing engine applies them to a subscription's invoices.

extension BillingCollections {
    public static let coupons = "coupons"
    public static let taxRates = "tax_rates"
}

/// A coupon (schemas/collections/coupons.json).
struct CouponDocument: Codable, Sendable {
    var id: String
    var tenantID: String
    var name: String?
    var percentOff: Decimal?
    var amountOff: Decimal?
    var currency: String?
    var duration: CouponDuration
    var durationInMonths: Int?
    var maxRedemptions: Int?
    var redeemBy: Date?
    /// Incremented in the transaction that applies the coupon: concurrent redemptions conflict and
    /// retry, so `max_redemptions` holds.
    var timesRedeemed: Int
    var deletedAt: Date?
    var metadata: [String: String]
    var createdAt: Date
    var updatedAt: Date
    var version: Int

    var amountOffMoney: Money? {
        guard let amountOff, let currency = currency.flatMap(Currency.init(code:)) else { return nil }
        return Money(amountOff, currency)
    }

    /// Why it cannot be applied at `time`, or nil when it can.
    func refusal(at time: Date) -> String? {
        if deletedAt != nil { return "the coupon was deleted" }
        if let redeemBy, time > redeemBy { return "the coupon could be redeemed until \(MessageCoding.formatTimestamp(redeemBy))" }
        if let maxRedemptions, timesRedeemed >= maxRedemptions { return "the coupon was redeemed its \(maxRedemptions) times" }
        return nil
    }

    func resource(at time: Date) -> Coupon {
        Coupon(
            id: id, name: name, percentOff: percentOff, amountOff: amountOffMoney, duration: duration,
            durationInMonths: durationInMonths, maxRedemptions: maxRedemptions, redeemBy: redeemBy,
            timesRedeemed: timesRedeemed, valid: refusal(at: time) == nil, metadata: metadata, createdAt: createdAt)
    }
}

/// A tax rate (schemas/collections/tax_rates.json). Its percentage and inclusiveness never change.
struct TaxRateDocument: Codable, Sendable {
    var id: String
    var tenantID: String
    var displayName: String
    var description: String?
    var percentage: Decimal
    var inclusive: Bool
    var country: String?
    var active: Bool
    var metadata: [String: String]
    var createdAt: Date
    var updatedAt: Date
    var version: Int

    var resource: TaxRateResource {
        TaxRateResource(
            id: id, displayName: displayName, description: description, percentage: percentage, inclusive: inclusive,
            country: country, active: active, metadata: metadata, createdAt: createdAt)
    }

    func rule() throws(BillingRuleError) -> TaxRate { try TaxRate(id: id, percentage: percentage, inclusive: inclusive) }
}

/// A coupon as applied to a subscription: its terms copied, so a later deletion changes nothing.
struct DiscountDocument: Codable, Sendable, Hashable {
    var coupon: String
    var name: String?
    var percentOff: Decimal?
    var amountOff: Decimal?
    var currency: String?
    var duration: CouponDuration
    var start: Date
    /// A repeating discount's end; nil for once and forever.
    var end: Date?

    init(_ coupon: CouponDocument, at start: Date) {
        (self.coupon, name, percentOff, amountOff, currency, duration) =
            (coupon.id, coupon.name, coupon.percentOff, coupon.amountOff, coupon.currency, coupon.duration)
        self.start = start
        if coupon.duration == .repeating, let months = coupon.durationInMonths {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            end = calendar.date(byAdding: .month, value: months, to: start)
        }
    }

    /// The rule for an invoice issued at `time`, or nil when the discount does not apply then.
    func rule(at time: Date) -> Discount? {
        guard time >= start, end.map({ time < $0 }) ?? true else { return nil }
        if let percentOff { return Discount(coupon: coupon, value: .percentOff(percentOff)) }
        if let amountOff, let currency = currency.flatMap(Currency.init(code:)) {
            return Discount(coupon: coupon, value: .amountOff(Money(amountOff, currency)))
        }
        return nil
    }

    var resource: AppliedDiscount {
        AppliedDiscount(
            coupon: coupon, name: name, percentOff: percentOff,
            amountOff: amountOff.flatMap { amount in currency.flatMap(Currency.init(code:)).map { Money(amount, $0) } },
            duration: duration, start: start, end: end)
    }
}

/// One rate's tax as an invoice stores it.
struct TaxAmountDocument: Codable, Sendable, Hashable {
    var taxRate: String
    var displayName: String
    var percentage: Decimal
    var inclusive: Bool
    var amount: Decimal

    init(_ tax: TaxAmount, names: [String: String]) {
        (taxRate, percentage, inclusive, amount) = (tax.taxRate, tax.percentage, tax.inclusive, tax.amount.amount)
        displayName = names[tax.taxRate] ?? tax.taxRate
    }

    func resource(_ currency: Currency) -> InvoiceTaxAmount {
        InvoiceTaxAmount(
            taxRate: taxRate, displayName: displayName, percentage: percentage, inclusive: inclusive,
            amount: Money(amount, currency))
    }
}

/// A coupon's part of an invoice's discount, as stored.
struct DiscountAmountDocument: Codable, Sendable, Hashable {
    var coupon: String
    var amount: Decimal
}

extension BillingEngine {
    /// The coupon to apply to a subscription at `time`, counted as redeemed in this transaction: a 404
    /// for an unknown one, a 409 for one that can no longer be applied, a 422 for an amount off in
    /// another currency.
    func redeem(_ txn: MongoTransaction, coupon id: String, tenant: String, currency: Currency, at time: Date) throws
        -> DiscountDocument
    {
        let coupons = txn.collection(BillingCollections.coupons, as: CouponDocument.self)
        guard ResourceID.isWellFormed(id, prefix: "co"),
            let coupon = try coupons.findOne(["_id": .string(id), "tenant_id": .string(tenant)])
        else { throw Problem.notFound("coupon \(id)") }
        if let refusal = coupon.refusal(at: time) {
            throw Self.conflict("coupon_not_valid", "\(refusal): it cannot be applied", param: "coupon")
        }
        if let amountOff = coupon.amountOffMoney, amountOff.currency != currency {
            throw Problem.invalid(
                "coupon", "the coupon takes \(amountOff) off and the subscription is billed in \(currency.code)")
        }
        // The version check makes two concurrent redemptions of the last one conflict: one retries
        // and then finds the coupon used up.
        try Versioned.update(
            coupons, ["_id": .string(id)], version: coupon.version, set: ["times_redeemed": .int(coupon.timesRedeemed + 1)],
            at: time)
        return DiscountDocument(coupon, at: time)
    }

    /// The tenant's active tax rates named by `ids`, in order: a 422 naming `field[i]` for an unknown or inactive one.
    func taxRates(_ txn: MongoTransaction, ids: [String], tenant: String, field: String) throws -> [TaxRateDocument] {
        guard !ids.isEmpty else { return [] }
        let found = try txn.collection(BillingCollections.taxRates, as: TaxRateDocument.self).find([
            "_id": ["$in": .array(ids.map(BSONValue.string))], "tenant_id": .string(tenant),
        ])
        return try ids.enumerated().map { index, id in
            guard let rate = found.first(where: { $0.id == id }) else {
                throw Problem.invalid("\(field)[\(index)]", "no tax rate \(id)")
            }
            guard rate.active else { throw Problem.invalid("\(field)[\(index)]", "the tax rate \(id) is inactive") }
            if ids[..<index].contains(id) { throw Problem.invalid("\(field)[\(index)]", "the tax rate \(id) is listed twice") }
            return rate
        }
    }

    /// The stored rates of a subscription's invoices (inactive ones included: they were chosen while active).
    func storedTaxRates(_ txn: MongoTransaction, _ subscription: SubscriptionDocument?) throws -> [TaxRateDocument] {
        guard let subscription, let ids = subscription.defaultTaxRates, !ids.isEmpty else { return [] }
        let found = try txn.collection(BillingCollections.taxRates, as: TaxRateDocument.self).find([
            "_id": ["$in": .array(ids.map(BSONValue.string))], "tenant_id": .string(subscription.tenantID),
        ])
        return ids.compactMap { id in found.first { $0.id == id } }
    }
}

extension SubscriptionDocument {
    /// After an invoice of this subscription: a `once` discount is spent by the first invoice with
    /// something to pay, and a repeating one past its end is removed.
    mutating func settleDiscount(after invoice: InvoiceDocument) {
        guard let discount else { return }
        if discount.duration == .once, invoice.subtotal > 0, invoice.discountAmount ?? 0 != 0 {
            self.discount = nil
        } else if let end = discount.end, let issued = invoice.issuedAt, issued >= end {
            self.discount = nil
        }
    }
}

/// The invoice worker's coupon and tax-rate commands.
enum Adjustments {
    static let staff: Set<Principal.Role> = [.admin, .service, .system]

    static func register(_ registry: inout HandlerRegistry) {
        registry.write(Commands.CouponCreate.self) { context, payload in try createCoupon(context, payload.body) }
        registry.write(Commands.CouponDelete.self) { context, payload in
            let access = Access(context.envelope.principal)
            try access.require(staff, to: "delete coupons")
            let id = try ResourceID.path(payload.path.id, prefix: "co", what: "coupon")
            let coupons = context.transaction.collection(BillingCollections.coupons, as: CouponDocument.self)
            guard let filter = access.scope(["_id": .string(id)]), var coupon = try coupons.findOne(filter) else {
                throw Problem.notFound("coupon")
            }
            guard coupon.deletedAt == nil else { return Answer(coupon.resource(at: context.now)) }
            try Versioned.update(
                coupons, filter, version: coupon.version, set: ["deleted_at": .datetime(millisecondsOf: context.now)],
                at: context.now)
            coupon.deletedAt = context.now
            coupon.version += 1
            context.emit(.couponDeleted, payload: try event(coupon.id, coupon.tenantID, "coupon", coupon.resource(at: context.now)))
            return Answer(coupon.resource(at: context.now))
        }
        registry.read(Commands.CouponGet.self) { envelope, context, payload in
            let access = Access(envelope.principal)
            try access.require(staff, to: "read coupons")
            let id = try ResourceID.path(payload.path.id, prefix: "co", what: "coupon")
            guard
                let coupon = try await context.database.collection(BillingCollections.coupons, as: CouponDocument.self)
                    .findOne(["_id": .string(id), "tenant_id": .string(access.tenant)]), coupon.deletedAt == nil
            else { throw Problem.notFound("coupon") }
            return Answer(coupon.resource(at: context.now))
        }
        registry.read(Commands.CouponList.self) { envelope, context, payload in
            let access = Access(envelope.principal)
            try access.require(staff, to: "list coupons")
            let page = PageRequest(payload.query.page)
            let found = try await page.find(
                context.database.collection(BillingCollections.coupons, as: CouponDocument.self),
                ["tenant_id": .string(access.tenant), "deleted_at": .null])
            return Answer(page.page(found) { $0.resource(at: context.now) })
        }
        registry.write(Commands.TaxRateCreate.self) { context, payload in try createTaxRate(context, payload.body) }
        registry.write(Commands.TaxRateUpdate.self) { context, payload in try updateTaxRate(context, payload.path, payload.body) }
        registry.read(Commands.TaxRateGet.self) { envelope, context, payload in
            let access = Access(envelope.principal)
            try access.require(staff, to: "read tax rates")
            let id = try ResourceID.path(payload.path.id, prefix: "txr", what: "tax rate")
            guard
                let rate = try await context.database.collection(BillingCollections.taxRates, as: TaxRateDocument.self)
                    .findOne(["_id": .string(id), "tenant_id": .string(access.tenant)])
            else { throw Problem.notFound("tax rate") }
            return Answer(rate.resource)
        }
        registry.read(Commands.TaxRateList.self) { envelope, context, payload in
            let access = Access(envelope.principal)
            try access.require(staff, to: "list tax rates")
            let page = PageRequest(payload.query.page)
            var filter: BSONDocument = ["tenant_id": .string(access.tenant)]
            if let active = payload.query.filters.active { filter["active"] = .bool(active) }
            let found = try await page.find(
                context.database.collection(BillingCollections.taxRates, as: TaxRateDocument.self), filter)
            return Answer(page.page(found) { $0.resource })
        }
    }

    static func createCoupon(_ context: CommandContext, _ draft: CouponDraft) throws -> Answer<Coupon> {
        let access = Access(context.envelope.principal)
        try access.require(staff, to: "create coupons")
        var amountOff: Money?
        switch (draft.percentOff, draft.amountOff, draft.currency) {
        case (let percent?, nil, nil):
            _ = try DiscountValue.percentOff(percent).validated()
        case (nil, let amount?, let currency?):
            let money: Money
            do { money = try Money(parsing: amount.text, currency.currency) } catch {
                throw Problem.invalid("amount_off", "amount_off \(error)")
            }
            _ = try DiscountValue.amountOff(money).validated()
            amountOff = money
        case (nil, _?, nil):
            throw Problem.invalid("currency", "currency is required with amount_off")
        case (nil, nil, _?):
            throw Problem.invalid("amount_off", "currency goes with amount_off")
        case (nil, nil, nil):
            throw Problem.invalid("percent_off", "a coupon takes either percent_off or amount_off")
        case (_?, _, _):
            throw Problem.invalid("amount_off", "a coupon takes either percent_off or amount_off, not both")
        }
        switch (draft.duration, draft.durationInMonths) {
        case (.repeating, nil):
            throw Problem.invalid("duration_in_months", "duration_in_months is required with duration repeating")
        case (.once, _?), (.forever, _?):
            throw Problem.invalid("duration_in_months", "duration_in_months goes with duration repeating only")
        default: break
        }
        if let redeemBy = draft.redeemBy, redeemBy <= context.now {
            throw Problem.invalid("redeem_by", "redeem_by is in the past")
        }
        let coupon = CouponDocument(
            id: ResourceID.make("co", at: context.now), tenantID: access.tenant, name: draft.name?.value,
            percentOff: draft.percentOff, amountOff: amountOff?.amount, currency: amountOff?.currency.code,
            duration: draft.duration, durationInMonths: draft.durationInMonths?.value,
            maxRedemptions: draft.maxRedemptions?.value, redeemBy: draft.redeemBy, timesRedeemed: 0, deletedAt: nil,
            metadata: draft.metadata?.values ?? [:], createdAt: context.now, updatedAt: context.now, version: 1)
        try context.transaction.collection(BillingCollections.coupons, as: CouponDocument.self).insertOne(coupon)
        context.emit(.couponCreated, payload: try event(coupon.id, coupon.tenantID, "coupon", coupon.resource(at: context.now)))
        return Answer(status: 201, coupon.resource(at: context.now))
    }

    static func createTaxRate(_ context: CommandContext, _ draft: TaxRateDraft) throws -> Answer<TaxRateResource> {
        let access = Access(context.envelope.principal)
        try access.require(staff, to: "create tax rates")
        let id = ResourceID.make("txr", at: context.now)
        let rule = try TaxRate(id: id, percentage: draft.percentage, inclusive: draft.inclusive)
        let rate = TaxRateDocument(
            id: id, tenantID: access.tenant, displayName: draft.displayName.value, description: draft.description?.value,
            percentage: rule.percentage, inclusive: rule.inclusive, country: draft.country?.value, active: true,
            metadata: draft.metadata?.values ?? [:], createdAt: context.now, updatedAt: context.now, version: 1)
        try context.transaction.collection(BillingCollections.taxRates, as: TaxRateDocument.self).insertOne(rate)
        context.emit(.taxRateCreated, payload: try event(rate.id, rate.tenantID, "tax_rate", rate.resource))
        return Answer(status: 201, rate.resource)
    }

    static func updateTaxRate(_ context: CommandContext, _ path: IDPath, _ changes: TaxRateChanges) throws
        -> Answer<TaxRateResource>
    {
        let access = Access(context.envelope.principal)
        try access.require(staff, to: "change tax rates")
        let id = try ResourceID.path(path.id, prefix: "txr", what: "tax rate")
        let rates = context.transaction.collection(BillingCollections.taxRates, as: TaxRateDocument.self)
        guard let filter = access.scope(["_id": .string(id)]), var rate = try rates.findOne(filter) else {
            throw Problem.notFound("tax rate")
        }
        var set = BSONDocument()
        if let name = changes.displayName?.value, name != rate.displayName {
            rate.displayName = name
            set["display_name"] = .string(name)
        }
        if let description = changes.description?.value, description != rate.description {
            rate.description = description
            set["description"] = .string(description)
        }
        if let active = changes.active, active != rate.active {
            rate.active = active
            set["active"] = .bool(active)
        }
        if let metadata = changes.metadata {
            let merged = try metadata.merged(into: rate.metadata)
            if merged != rate.metadata {
                rate.metadata = merged
                set["metadata"] = .document(BSONDocument(merged.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
            }
        }
        guard !set.isEmpty else { return Answer(rate.resource) }
        try Versioned.update(rates, filter, version: rate.version, set: set, at: context.now)
        rate.version += 1
        rate.updatedAt = context.now
        context.emit(.taxRateUpdated, payload: try event(rate.id, rate.tenantID, "tax_rate", rate.resource))
        return Answer(rate.resource)
    }

    static func event(_ id: String, _ tenant: String, _ key: String, _ resource: some Encodable) throws -> JSONValue {
        .object(["id": .string(id), "tenant_id": .string(tenant), key: try ValueEncoder.encode(resource)])
    }
}
