import Foundation

/// A usage charge on a plan (DESIGN §9): a billable metric and how its period quantity is priced.
///
/// A charge is valid by construction: ``init(billableMetric:model:currency:)`` checks the model
/// against the plan's currency, so ``price(quantity:)`` has no definition errors left to find.
public struct Charge: Sendable, Hashable {
    /// The billable metric's code (`^[a-z][a-z0-9_]{0,63}$`).
    public let billableMetric: String
    public let model: ChargeModel
    /// The plan's currency: flat fees and package prices are whole minor units of it.
    public let currency: Currency

    /// The most decimal places a unit price may have, so a metric can cost a fraction of a minor
    /// unit ($0.0001 per call); Stripe's `unit_amount_decimal` allows 12 too, counted in cents.
    public static let unitPriceDecimals = 12

    /// - Throws: `invalid_charge` naming the field relative to the charge (`billable_metric`,
    ///   `unit_price`, `tiers[1].up_to`, `package_size` …); prefix it with ``BillingRuleError/nested(under:)``.
    public init(billableMetric: String, model: ChargeModel, currency: Currency) throws(BillingRuleError) {
        guard billableMetric.wholeMatch(of: /[a-z][a-z0-9_]{0,63}/) != nil else {
            throw BillingRuleError(
                .invalidCharge,
                "billable_metric must be a metric code: a lowercase letter, then up to 63 lowercase letters, digits "
                    + "or underscores; got '\(billableMetric)'",
                field: "billable_metric")
        }
        try model.validate(for: currency)
        self.billableMetric = billableMetric
        self.model = model
        self.currency = currency
    }
}

/// How a period's quantity becomes an amount. Wire names: `per_unit`, `graduated`, `volume`, `package`.
public enum ChargeModel: Sendable, Hashable {
    /// `quantity × unitPrice`.
    case perUnit(unitPrice: Decimal)
    /// Each tier's units at that tier's price, plus the flat fee of every tier reached.
    case graduated(tiers: [Tier])
    /// Every unit at the price of the tier the total falls in, plus that tier's flat fee.
    case volume(tiers: [Tier])
    /// `ceil(quantity / size) × price`: a package counts from its first unit.
    case package(size: Int, price: Decimal)

    /// The model's name on the wire.
    public var name: String {
        switch self {
        case .perUnit: "per_unit"
        case .graduated: "graduated"
        case .volume: "volume"
        case .package: "package"
        }
    }

    func validate(for currency: Currency) throws(BillingRuleError) {
        switch self {
        case .perUnit(let unitPrice):
            try Self.checkUnitPrice(unitPrice, field: "unit_price")
        case .graduated(let tiers), .volume(let tiers):
            try Self.checkTiers(tiers, currency: currency)
        case .package(let size, let price):
            guard size >= 1 else {
                throw BillingRuleError(
                    .invalidCharge, "package_size must be a whole number of units, at least 1; got \(size)",
                    field: "package_size")
            }
            try Self.checkAmount(price, currency: currency, field: "package_price")
        }
    }

    private static func checkTiers(_ tiers: [Tier], currency: Currency) throws(BillingRuleError) {
        guard let last = tiers.last else {
            throw BillingRuleError(
                .invalidCharge, "tiers must list at least one tier, the last with up_to null", field: "tiers")
        }
        var previous = 0
        for (i, tier) in tiers.enumerated() {
            let field = "tiers[\(i)]"
            if i < tiers.count - 1 {
                guard let upTo = tier.upTo else {
                    throw BillingRuleError(
                        .invalidCharge,
                        "only the last tier may have up_to null; give this tier the last unit it covers",
                        field: "\(field).up_to")
                }
                guard upTo > previous else {
                    throw BillingRuleError(
                        .invalidCharge,
                        i == 0
                            ? "up_to must be at least 1; got \(upTo)"
                            : "up_to must be greater than the previous tier's (\(previous)); got \(upTo)",
                        field: "\(field).up_to")
                }
                previous = upTo
            }
            try checkUnitPrice(tier.unitPrice, field: "\(field).unit_price")
            try checkAmount(tier.flatFee, currency: currency, field: "\(field).flat_fee")
        }
        if let upTo = last.upTo {
            throw BillingRuleError(
                .invalidCharge,
                "the last tier must have up_to null so that every quantity is priced; got \(upTo)",
                field: "tiers[\(tiers.count - 1)].up_to")
        }
    }

    private static func checkUnitPrice(_ price: Decimal, field: String) throws(BillingRuleError) {
        let name = leafName(field)
        guard !price.isNaN, price >= 0 else {
            throw BillingRuleError(.invalidCharge, "\(name) must be zero or positive; got \(price)", field: field)
        }
        guard price.rounded(toPlaces: Charge.unitPriceDecimals) == price else {
            throw BillingRuleError(
                .invalidCharge, "\(name) may have at most \(Charge.unitPriceDecimals) decimal places; got \(price)",
                field: field)
        }
    }

    /// Flat fees and package prices are amounts billed as they are, so they are whole minor units.
    private static func checkAmount(_ amount: Decimal, currency: Currency, field: String) throws(BillingRuleError) {
        let name = leafName(field)
        guard !amount.isNaN, amount >= 0 else {
            throw BillingRuleError(.invalidCharge, "\(name) must be zero or positive; got \(amount)", field: field)
        }
        guard Money(amount, currency).rounded().amount == amount else {
            throw BillingRuleError(
                .invalidCharge,
                "\(name) may have at most \(currency.exponent) decimal places, the most \(currency) allows; got \(amount)",
                field: field)
        }
    }

    /// Messages name the field's last part (`flat_fee`); the error's `field` carries the whole path,
    /// which a plan prefixes with the charge's place.
    private static func leafName(_ field: String) -> Substring {
        field.split(separator: ".").last ?? Substring(field)
    }
}

/// One tier of a graduated or volume charge. It covers the units after the previous tier's `upTo`
/// (0 for the first) up to and including its own; the last tier is open (`upTo == nil`).
public struct Tier: Sendable, Hashable {
    /// The last unit the tier covers; nil for the open last tier.
    public let upTo: Int?
    /// The price of one unit in this tier, at most ``Charge/unitPriceDecimals`` decimal places.
    public let unitPrice: Decimal
    /// Due once per period when any unit falls in the tier, in whole minor units.
    public let flatFee: Decimal

    public init(upTo: Int?, unitPrice: Decimal, flatFee: Decimal = 0) {
        self.upTo = upTo
        self.unitPrice = unitPrice
        self.flatFee = flatFee
    }
}

extension Decimal {
    /// Rounded to `places` decimal places, half away from zero.
    func rounded(toPlaces places: Int) -> Decimal {
        var value = self
        var result = Decimal()
        NSDecimalRound(&result, &value, places, .plain)
        return result
    }
}
