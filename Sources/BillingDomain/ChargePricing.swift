import Foundation

/// A charge priced for one period's quantity: the usage line of an invoice (DESIGN §9).
///
/// Only ``amount`` is rounded, once, to the currency's minor unit, half away from zero; the tier
/// amounts and ``exactAmount`` are the exact figures it is rounded from.
public struct ChargeLine: Sendable, Hashable {
    public let billableMetric: String
    /// The aggregated quantity as given (fractional for a `sum`).
    public let quantity: Decimal
    /// What one unit cost on average, ``exactAmount`` ÷ ``quantity`` to ``Charge/unitPriceDecimals``
    /// places (0 for no usage), as Lago's `unit_amount` and Stripe's `unit_amount_excluding_tax`:
    /// the unit price for `per_unit`, flat fees and package rounding included for the others.
    /// Shown, never multiplied back: ``amount`` does not come from it.
    public let unitAmount: Decimal
    /// The exact sum of the line before its one rounding.
    public let exactAmount: Decimal
    /// ``exactAmount`` rounded once to the currency's minor unit, half away from zero.
    public let amount: Money
    /// The tiers units fell in, in order (graduated: every tier reached; volume: the one the total
    /// falls in); empty for `per_unit`, `package` and no usage.
    public let tiers: [TierLine]
    /// `ceil(quantity / package_size)` for a `package` charge, else nil.
    public let packages: Decimal?
}

/// The part of a usage line one tier priced, so an invoice can itemize it ("11–20: 10 × 0.08 + 2.00").
public struct TierLine: Sendable, Hashable {
    /// The tier's index in the charge's `tiers`, from 0.
    public let tier: Int
    /// The previous tier's `up_to` (0 for the first): the tier covers units above this.
    public let startsAfter: Int
    /// The last unit the tier covers; nil for the open last tier.
    public let upTo: Int?
    /// The units priced in this tier (fractional when the quantity is).
    public let units: Decimal
    public let unitPrice: Decimal
    public let flatFee: Decimal
    /// `units × unitPrice + flatFee`, exact: a tier is never rounded on its own.
    public let amount: Decimal

    init(tier: Int, startsAfter: Int, upTo: Int?, units: Decimal, unitPrice: Decimal, flatFee: Decimal) {
        self.tier = tier
        self.startsAfter = startsAfter
        self.upTo = upTo
        self.units = units
        self.unitPrice = unitPrice
        self.flatFee = flatFee
        self.amount = units * unitPrice + flatFee
    }
}

extension Charge {
    /// Prices a period's quantity of the metric. A tier covers units up to and including its
    /// `up_to`, so 10.5 units against `up_to: 10` put 0.5 in the next tier; 0 units cost nothing.
    ///
    /// - Throws: `invalid_quantity` (field `quantity`) for a negative quantity.
    public func price(quantity: Decimal) throws(BillingRuleError) -> ChargeLine {
        guard !quantity.isNaN, quantity >= 0 else {
            throw BillingRuleError(
                .invalidQuantity, "a usage quantity must be zero or positive; got \(quantity)", field: "quantity")
        }
        var tierLines: [TierLine] = []
        var packages: Decimal?
        let exact: Decimal
        switch model {
        case .perUnit(let unitPrice):
            exact = quantity * unitPrice
        case .graduated(let tiers):
            var startsAfter = 0
            for (i, tier) in tiers.enumerated() where quantity > Decimal(startsAfter) {
                let top = tier.upTo.map { min(quantity, Decimal($0)) } ?? quantity
                tierLines.append(
                    TierLine(
                        tier: i, startsAfter: startsAfter, upTo: tier.upTo, units: top - Decimal(startsAfter),
                        unitPrice: tier.unitPrice, flatFee: tier.flatFee))
                guard let upTo = tier.upTo else { break }
                startsAfter = upTo
            }
            exact = tierLines.reduce(0) { $0 + $1.amount }
        case .volume(let tiers):
            var startsAfter = 0
            // The validated last tier is open, so any positive quantity finds its tier.
            for (i, tier) in tiers.enumerated() where quantity > 0 {
                if let upTo = tier.upTo, quantity > Decimal(upTo) {
                    startsAfter = upTo
                    continue
                }
                tierLines.append(
                    TierLine(
                        tier: i, startsAfter: startsAfter, upTo: tier.upTo, units: quantity,
                        unitPrice: tier.unitPrice, flatFee: tier.flatFee))
                break
            }
            exact = tierLines.reduce(0) { $0 + $1.amount }
        case .package(let size, let price):
            let count = Self.packageCount(quantity, size: size)
            packages = count
            exact = count * price
        }
        return ChargeLine(
            billableMetric: billableMetric, quantity: quantity,
            unitAmount: quantity > 0 ? (exact / quantity).rounded(toPlaces: Self.unitPriceDecimals) : 0,
            exactAmount: exact, amount: Money(exact, currency).rounded(), tiers: tierLines, packages: packages)
    }

    /// `ceil(quantity / size)` for `quantity ≥ 0`, exactly: the 38-digit quotient is only a first
    /// guess, checked against `(n − 1)·size < quantity ≤ n·size` with exact products.
    static func packageCount(_ quantity: Decimal, size: Int) -> Decimal {
        let size = Decimal(size)
        var quotient = quantity / size
        var count = Decimal()
        NSDecimalRound(&count, &quotient, 0, .up)
        while count * size < quantity { count += 1 }
        while count > 0 && (count - 1) * size >= quantity { count -= 1 }
        return count
    }
}
