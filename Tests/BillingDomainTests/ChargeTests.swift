import BillingDomain
import Foundation
import Testing

/// A decimal from its string, exactly.
private func dec(_ text: String) -> Decimal {
    guard let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) else {
        preconditionFailure("bad test decimal \(text)")
    }
    return value
}

private func tier(_ upTo: Int?, _ unitPrice: String, flat: String = "0") -> Tier {
    Tier(upTo: upTo, unitPrice: dec(unitPrice), flatFee: dec(flat))
}

/// Charges the tables price. Every expected figure below was worked out by hand from DESIGN §9.
enum Fixture: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// 1.00 each for units 1–10; 0.60 each for 11–20 plus 5.00; 0.25 each above 20 plus 10.00.
    case graduatedUSD
    /// The same tiers priced by volume; no two tiers price a boundary quantity alike, so a tier
    /// chosen one off shows in the amount.
    case volumeUSD
    /// 0.015 per unit: every odd unit count ends on a half cent.
    case perUnitUSD
    /// 5.00 per package of 100.
    case packageUSD
    /// 1.5 yen each for units 1–100; 0.5 yen each above plus 100 yen.
    case graduatedJPY
    /// 3 yen each up to 1,000 units; above that every unit at 2.5 yen plus 600 yen.
    case volumeJPY
    /// 1,000 yen per package of 10.
    case packageJPY
    /// 0.0125 KWD per unit: half a fils on odd counts.
    case perUnitKWD
    /// 0.100 KWD each for units 1–5 plus 0.500; 0.0505 each above plus 1.250.
    case graduatedKWD

    var testDescription: String { rawValue }

    var charge: Charge {
        let (model, code): (ChargeModel, String) =
            switch self {
            case .graduatedUSD:
                (.graduated(tiers: [tier(10, "1.00"), tier(20, "0.60", flat: "5.00"), tier(nil, "0.25", flat: "10.00")]), "USD")
            case .volumeUSD:
                (.volume(tiers: [tier(10, "1.00"), tier(20, "0.60", flat: "5.00"), tier(nil, "0.25", flat: "10.00")]), "USD")
            case .perUnitUSD: (.perUnit(unitPrice: dec("0.015")), "USD")
            case .packageUSD: (.package(size: 100, price: dec("5.00")), "USD")
            case .graduatedJPY: (.graduated(tiers: [tier(100, "1.5"), tier(nil, "0.5", flat: "100")]), "JPY")
            case .volumeJPY: (.volume(tiers: [tier(1000, "3"), tier(nil, "2.5", flat: "600")]), "JPY")
            case .packageJPY: (.package(size: 10, price: dec("1000")), "JPY")
            case .perUnitKWD: (.perUnit(unitPrice: dec("0.0125")), "KWD")
            case .graduatedKWD: (.graduated(tiers: [tier(5, "0.100", flat: "0.500"), tier(nil, "0.0505", flat: "1.250")]), "KWD")
            }
        do {
            return try Charge(billableMetric: "api_calls", model: model, currency: Currency(code: code)!)
        } catch {
            preconditionFailure("fixture \(self) is invalid: \(error)")
        }
    }
}

/// A tier line as the tables write it: (tier, starts after, up to, units, unit price, flat fee, amount).
struct ExpectedTier: Equatable, CustomStringConvertible {
    let tier: Int, startsAfter: Int, upTo: Int?
    let units: Decimal, unitPrice: Decimal, flatFee: Decimal, amount: Decimal

    init(_ tier: Int, _ startsAfter: Int, _ upTo: Int?, _ units: String, _ unitPrice: String, _ flatFee: String, _ amount: String) {
        (self.tier, self.startsAfter, self.upTo) = (tier, startsAfter, upTo)
        (self.units, self.unitPrice, self.flatFee, self.amount) = (dec(units), dec(unitPrice), dec(flatFee), dec(amount))
    }

    init(_ line: TierLine) {
        (tier, startsAfter, upTo) = (line.tier, line.startsAfter, line.upTo)
        (units, unitPrice, flatFee, amount) = (line.units, line.unitPrice, line.flatFee, line.amount)
    }

    var description: String {
        "tiers[\(tier)] (\(startsAfter), \(upTo.map(String.init) ?? "∞")]: \(units) × \(unitPrice) + \(flatFee) = \(amount)"
    }
}

@Suite("Metered charges: pricing")
struct ChargePricingTests {
    @Test(arguments: [
        // Graduated, USD: 1.00 ×10, then 0.60 + 5.00 flat, then 0.25 + 10.00 flat.
        (Fixture.graduatedUSD, "0", "0.00"),  // no usage: not even the first tier's fee
        (.graduatedUSD, "1", "1.00"),
        (.graduatedUSD, "10", "10.00"),  // exactly at up_to: tier 2 not reached, no 5.00
        (.graduatedUSD, "11", "15.60"),  // 10 + 1 × 0.60 + 5.00
        (.graduatedUSD, "20", "21.00"),  // 10 + 10 × 0.60 + 5.00
        (.graduatedUSD, "21", "31.25"),  // 21 + 1 × 0.25 + 10.00: every reached tier's fee
        (.graduatedUSD, "100", "51.00"),  // open last tier: 21 + 80 × 0.25 + 10.00
        (.graduatedUSD, "10.5", "15.30"),  // 0.5 of a unit above 10 reaches tier 2: 10 + 0.30 + 5.00
        (.graduatedUSD, "0.001", "0.00"),  // 0.001 × 1.00
        (.graduatedUSD, "20.002", "31.00"),  // 21 + 0.0005 + 10.00 = 31.0005
        // Volume, USD: the tier the total falls in prices every unit, plus only its own flat fee.
        (.volumeUSD, "0", "0.00"),
        (.volumeUSD, "1", "1.00"),
        (.volumeUSD, "10", "10.00"),  // 10 × 1.00: up_to is inclusive (tier 2 would give 11.00)
        (.volumeUSD, "11", "11.60"),  // 11 × 0.60 + 5.00
        (.volumeUSD, "20", "17.00"),  // 20 × 0.60 + 5.00 (tier 3 would give 15.00)
        (.volumeUSD, "21", "15.25"),  // 21 × 0.25 + 10.00, cheaper than 20 units; tier 2's 5.00 is not due
        (.volumeUSD, "100", "35.00"),  // 100 × 0.25 + 10.00
        (.volumeUSD, "10.5", "11.30"),  // 10.5 × 0.60 + 5.00
        (.volumeUSD, "0.5", "0.50"),
        // Per unit, USD, 0.015: halves of a cent round away from zero (banker's would go to even).
        (.perUnitUSD, "0", "0.00"),
        (.perUnitUSD, "1", "0.02"),  // 0.015
        (.perUnitUSD, "3", "0.05"),  // 0.045
        (.perUnitUSD, "2.5", "0.04"),  // 0.0375
        (.perUnitUSD, "1000", "15.00"),
        // Package, USD, 5.00 per 100: a package counts from its first unit.
        (.packageUSD, "0", "0.00"),
        (.packageUSD, "1", "5.00"),
        (.packageUSD, "100", "5.00"),
        (.packageUSD, "101", "10.00"),
        (.packageUSD, "0.5", "5.00"),
        (.packageUSD, "100.0001", "10.00"),
        (.packageUSD, "250", "15.00"),
        // JPY has no minor unit; a unit price may still be a fraction of a yen.
        (.graduatedJPY, "0", "0"),
        (.graduatedJPY, "1", "2"),  // 1.5
        (.graduatedJPY, "3", "5"),  // 4.5
        (.graduatedJPY, "100", "150"),
        (.graduatedJPY, "101", "251"),  // 150 + 0.5 + 100 = 250.5
        (.volumeJPY, "1000", "3000"),  // 1000 × 3 (tier 2 would give 3100)
        (.volumeJPY, "1001", "3103"),  // 1001 × 2.5 + 600 = 3102.5
        (.volumeJPY, "0", "0"),
        (.packageJPY, "0", "0"),
        (.packageJPY, "25", "3000"),  // 3 packages
        // KWD has three decimals.
        (.perUnitKWD, "0", "0.000"),
        (.perUnitKWD, "1", "0.013"),  // 0.0125
        (.perUnitKWD, "3", "0.038"),  // 0.0375
        (.perUnitKWD, "4", "0.050"),
        (.graduatedKWD, "0", "0.000"),
        (.graduatedKWD, "5", "1.000"),  // 5 × 0.100 + 0.500
        (.graduatedKWD, "6", "2.301"),  // 1.000 + 0.0505 + 1.250 = 2.3005
    ])
    func amountIsRoundedOnceHalfAwayFromZero(fixture: Fixture, quantity: String, amount: String) throws {
        let line = try fixture.charge.price(quantity: dec(quantity))
        #expect(line.amount.formatted == amount)
        #expect(line.amount.currency == fixture.charge.currency)
        #expect(line.quantity == dec(quantity))
        #expect(line.billableMetric == "api_calls")
    }

    @Test(arguments: Fixture.allCases)
    func zeroUnitsCostNothingAndItemizeNothing(fixture: Fixture) throws {
        let line = try fixture.charge.price(quantity: 0)
        #expect(line.amount.amount == 0 && line.exactAmount == 0 && line.unitAmount == 0)
        #expect(line.tiers.isEmpty)
    }

    @Test(arguments: [
        (Fixture.graduatedUSD, "10", [ExpectedTier(0, 0, 10, "10", "1.00", "0", "10.00")]),
        (
            .graduatedUSD, "11",
            [ExpectedTier(0, 0, 10, "10", "1.00", "0", "10.00"), ExpectedTier(1, 10, 20, "1", "0.60", "5.00", "5.60")]
        ),
        (
            .graduatedUSD, "21",
            [
                ExpectedTier(0, 0, 10, "10", "1.00", "0", "10.00"), ExpectedTier(1, 10, 20, "10", "0.60", "5.00", "11.00"),
                ExpectedTier(2, 20, nil, "1", "0.25", "10.00", "10.25"),
            ]
        ),
        (
            .graduatedUSD, "10.5",
            [ExpectedTier(0, 0, 10, "10", "1.00", "0", "10.00"), ExpectedTier(1, 10, 20, "0.5", "0.60", "5.00", "5.30")]
        ),
        (
            .graduatedUSD, "20.002",
            [
                ExpectedTier(0, 0, 10, "10", "1.00", "0", "10.00"), ExpectedTier(1, 10, 20, "10", "0.60", "5.00", "11.00"),
                ExpectedTier(2, 20, nil, "0.002", "0.25", "10.00", "10.0005"),
            ]
        ),
        (.volumeUSD, "10", [ExpectedTier(0, 0, 10, "10", "1.00", "0", "10.00")]),
        (.volumeUSD, "11", [ExpectedTier(1, 10, 20, "11", "0.60", "5.00", "11.60")]),
        (.volumeUSD, "20", [ExpectedTier(1, 10, 20, "20", "0.60", "5.00", "17.00")]),
        (.volumeUSD, "21", [ExpectedTier(2, 20, nil, "21", "0.25", "10.00", "15.25")]),
        (.volumeUSD, "10.5", [ExpectedTier(1, 10, 20, "10.5", "0.60", "5.00", "11.30")]),
        (.volumeJPY, "1001", [ExpectedTier(1, 1000, nil, "1001", "2.5", "600", "3102.5")]),
        (
            .graduatedKWD, "6",
            [ExpectedTier(0, 0, 5, "5", "0.100", "0.500", "1.000"), ExpectedTier(1, 5, nil, "1", "0.0505", "1.250", "1.3005")]
        ),
        (.perUnitUSD, "3", []),
        (.packageUSD, "101", []),
    ])
    func tiersAreItemizedExactly(fixture: Fixture, quantity: String, expected: [ExpectedTier]) throws {
        let line = try fixture.charge.price(quantity: dec(quantity))
        #expect(line.tiers.map(ExpectedTier.init) == expected)
        // The tier amounts add up to the exact line amount; only that is rounded.
        #expect(line.tiers.isEmpty || line.tiers.reduce(0) { $0 + $1.amount } == line.exactAmount)
    }

    @Test(arguments: [
        // per_unit: the unit price itself.
        (Fixture.perUnitUSD, "3", "0.015"),
        (.perUnitKWD, "1", "0.0125"),
        // Others: the exact amount over the quantity, to 12 places, half away from zero.
        (.graduatedUSD, "11", "1.418181818182"),  // 15.60 / 11
        (.graduatedUSD, "21", "1.488095238095"),  // 31.25 / 21
        (.graduatedUSD, "10.5", "1.457142857143"),  // 15.30 / 10.5
        (.volumeUSD, "11", "1.054545454545"),  // 11.60 / 11: the 5.00 flat fee included
        (.volumeUSD, "21", "0.726190476190"),  // 15.25 / 21
        (.volumeUSD, "10", "1"),
        (.packageUSD, "101", "0.099009900990"),  // 10.00 / 101
        (.packageUSD, "100", "0.05"),
        (.graduatedJPY, "101", "2.480198019802"),  // 250.5 / 101, from the unrounded 250.5
        (.graduatedKWD, "6", "0.383416666667"),  // 2.3005 / 6
    ])
    func unitAmountIsTheAverageUnitPrice(fixture: Fixture, quantity: String, unitAmount: String) throws {
        let line = try fixture.charge.price(quantity: dec(quantity))
        #expect(line.unitAmount == dec(unitAmount))
    }

    @Test(arguments: [
        ("0", "0"), ("1", "1"), ("99", "1"), ("100", "1"), ("101", "2"), ("0.5", "1"), ("100.0001", "2"), ("250", "3"),
    ])
    func packagesAreCountedUp(quantity: String, packages: String) throws {
        let line = try Fixture.packageUSD.charge.price(quantity: dec(quantity))
        #expect(line.packages == dec(packages))
    }

    @Test func packageCountIsExactBeyondTheQuotientsDigits() throws {
        // 3·10^20 + 10^-18 over packages of 3: the quotient 10^20 + 3.3…·10^-19 needs more digits than
        // Decimal keeps and comes out as 10^20, yet the last 10^-18 of a unit opens one more package.
        let charge = try Charge(billableMetric: "bytes", model: .package(size: 3, price: 0), currency: jpy)
        let line = try charge.price(quantity: dec("300000000000000000000.000000000000000001"))
        #expect(line.packages == dec("100000000000000000001"))
        #expect(try charge.price(quantity: dec("300000000000000000000")).packages == dec("100000000000000000000"))
    }

    @Test(arguments: [
        // Two tiers of 0.0025 each: the line is 0.005 → 0.01; rounding each tier would give 0.00.
        ([tier(1, "0.0025"), tier(nil, "0.0025")], "2", "0.01"),
        // Two tiers of 0.005 each: the line is 0.010 → 0.01; rounding each tier would give 0.02.
        ([tier(1, "0.005"), tier(nil, "0.005")], "2", "0.01"),
        // Three tiers whose amounts are 0.004, 0.004, 0.002: 0.01 in all, 0.00 tier by tier.
        ([tier(1, "0.004"), tier(2, "0.004"), tier(nil, "0.002")], "3", "0.01"),
    ])
    func graduatedRoundsTheLineNotTheTiers(tiers: [Tier], quantity: String, amount: String) throws {
        let charge = try Charge(billableMetric: "api_calls", model: .graduated(tiers: tiers), currency: usd)
        #expect(try charge.price(quantity: dec(quantity)).amount.formatted == amount)
    }

    @Test(arguments: [("0.005", "0.01"), ("0.025", "0.03"), ("0.0049", "0.00"), ("0.035", "0.04")])
    func halfACentRoundsAwayFromZero(unitPrice: String, amount: String) throws {
        let charge = try Charge(billableMetric: "api_calls", model: .perUnit(unitPrice: dec(unitPrice)), currency: usd)
        #expect(try charge.price(quantity: 1).amount.formatted == amount)
    }

    @Test func aSingleOpenTierPricesEverything() throws {
        let graduated = try Charge(
            billableMetric: "gb", model: .graduated(tiers: [tier(nil, "0.10", flat: "1.00")]), currency: usd)
        #expect(try graduated.price(quantity: dec("1000000.5")).amount.formatted == "100001.05")
        let volume = try Charge(billableMetric: "gb", model: .volume(tiers: [tier(nil, "0.10", flat: "1.00")]), currency: usd)
        #expect(try volume.price(quantity: dec("0.1")).amount.formatted == "1.01")
    }

    @Test(arguments: Fixture.allCases)
    func aNegativeQuantityIsRefused(fixture: Fixture) {
        #expect {
            try fixture.charge.price(quantity: dec("-0.001"))
        } throws: { error in
            let error = error as? BillingRuleError
            return error?.code == .invalidQuantity && error?.field == "quantity"
                && error?.message == "a usage quantity must be zero or positive; got -0.001"
        }
    }

    @Test(arguments: [
        (ChargeModel.perUnit(unitPrice: 1), "per_unit"), (.graduated(tiers: []), "graduated"),
        (.volume(tiers: []), "volume"), (.package(size: 1, price: 1), "package"),
    ])
    func modelsHaveTheirWireNames(model: ChargeModel, name: String) {
        #expect(model.name == name)
    }
}

@Suite("Metered charges: validation")
struct ChargeValidationTests {
    static let open = tier(nil, "0.25")

    @Test(arguments: [
        // Tiers.
        (ChargeModel.graduated(tiers: []), "USD", "tiers"),
        (.volume(tiers: []), "USD", "tiers"),
        (.graduated(tiers: [tier(10, "1"), tier(nil, "1"), open]), "USD", "tiers[1].up_to"),  // open in the middle
        (.graduated(tiers: [tier(10, "1"), tier(10, "1"), open]), "USD", "tiers[1].up_to"),  // not strictly ascending
        (.volume(tiers: [tier(10, "1"), tier(5, "1"), open]), "USD", "tiers[1].up_to"),
        (.graduated(tiers: [tier(0, "1"), open]), "USD", "tiers[0].up_to"),  // covers no unit
        (.volume(tiers: [tier(-1, "1"), open]), "USD", "tiers[0].up_to"),
        (.graduated(tiers: [tier(10, "1"), tier(20, "1")]), "USD", "tiers[1].up_to"),  // last not open
        (.volume(tiers: [tier(10, "1")]), "USD", "tiers[0].up_to"),
        // Tier prices.
        (.graduated(tiers: [tier(10, "1"), tier(nil, "-0.01")]), "USD", "tiers[1].unit_price"),
        (.volume(tiers: [tier(10, "0.0000000000001"), open]), "USD", "tiers[0].unit_price"),  // 13 places
        (.graduated(tiers: [tier(10, "1", flat: "-1"), open]), "USD", "tiers[0].flat_fee"),
        (.graduated(tiers: [tier(10, "1"), tier(nil, "1", flat: "0.001")]), "USD", "tiers[1].flat_fee"),
        (.volume(tiers: [tier(10, "1", flat: "100.5"), open]), "JPY", "tiers[0].flat_fee"),
        (.graduated(tiers: [tier(10, "1", flat: "0.0005"), open]), "KWD", "tiers[0].flat_fee"),
        // Per unit.
        (.perUnit(unitPrice: -1), "USD", "unit_price"),
        (.perUnit(unitPrice: dec("0.0000000000005")), "KWD", "unit_price"),
        // Package.
        (.package(size: 0, price: 5), "USD", "package_size"),
        (.package(size: -5, price: 5), "USD", "package_size"),
        (.package(size: 100, price: dec("0.001")), "USD", "package_price"),
        (.package(size: 100, price: dec("-1")), "USD", "package_price"),
        (.package(size: 100, price: dec("0.5")), "JPY", "package_price"),
    ])
    func anInvalidChargeNamesItsField(model: ChargeModel, currency: String, field: String) throws {
        let currency = try #require(Currency(code: currency))
        #expect {
            try Charge(billableMetric: "api_calls", model: model, currency: currency)
        } throws: { error in
            let error = error as? BillingRuleError
            return error?.code == .invalidCharge && error?.field == field
        }
    }

    @Test(arguments: ["", "API_calls", "1calls", "api-calls", "api calls", String(repeating: "a", count: 65)])
    func theMetricMustBeACode(code: String) {
        #expect {
            try Charge(billableMetric: code, model: .perUnit(unitPrice: 1), currency: usd)
        } throws: { error in
            (error as? BillingRuleError).map { $0.code == .invalidCharge && $0.field == "billable_metric" } ?? false
        }
    }

    @Test(arguments: [
        (ChargeModel.perUnit(unitPrice: 0), "USD"),  // free
        (.perUnit(unitPrice: dec("0.000000000001")), "USD"),  // exactly 12 places
        (.graduated(tiers: [open]), "USD"),
        (.volume(tiers: [tier(1, "0", flat: "0"), tier(2, "0"), open]), "USD"),
        (.graduated(tiers: [tier(10, "1", flat: "10.500"), open]), "USD"),  // trailing zeros are harmless
        (.graduated(tiers: [tier(5, "0.100", flat: "1.250"), open]), "KWD"),
        (.volume(tiers: [tier(10, "0.5", flat: "100"), open]), "JPY"),  // a sub-yen unit price is fine
        (.package(size: 1, price: 0), "JPY"),
    ])
    func validChargesAreAccepted(model: ChargeModel, currency: String) throws {
        let currency = try #require(Currency(code: currency))
        let charge = try Charge(billableMetric: "a", model: model, currency: currency)
        #expect(charge.model == model && charge.currency == currency)
        let longest = String(repeating: "a", count: 64)
        #expect(try Charge(billableMetric: longest, model: model, currency: currency).billableMetric == longest)
    }

    @Test func messagesSayWhatToFix() {
        let cases: [(ChargeModel, Currency, String)] = [
            (.graduated(tiers: []), usd, "tiers must list at least one tier, the last with up_to null"),
            (
                .graduated(tiers: [tier(10, "1"), tier(nil, "1"), ChargeValidationTests.open]), usd,
                "only the last tier may have up_to null; give this tier the last unit it covers"
            ),
            (.volume(tiers: [tier(10, "1"), tier(5, "1"), ChargeValidationTests.open]), usd,
             "up_to must be greater than the previous tier's (10); got 5"),
            (.volume(tiers: [tier(0, "1"), ChargeValidationTests.open]), usd, "up_to must be at least 1; got 0"),
            (.graduated(tiers: [tier(10, "1"), tier(20, "1")]), usd,
             "the last tier must have up_to null so that every quantity is priced; got 20"),
            (.volume(tiers: [tier(10, "1", flat: "100.5"), ChargeValidationTests.open]), jpy,
             "flat_fee may have at most 0 decimal places, the most JPY allows; got 100.5"),
            (
                .perUnit(unitPrice: dec("0.0000000000001")), usd,
                "unit_price may have at most 12 decimal places; got 0.0000000000001"
            ),
            (.package(size: 0, price: 5), usd, "package_size must be a whole number of units, at least 1; got 0"),
            (.package(size: 10, price: -5), usd, "package_price must be zero or positive; got -5"),
        ]
        for (model, currency, message) in cases {
            #expect {
                try Charge(billableMetric: "api_calls", model: model, currency: currency)
            } throws: { error in
                (error as? BillingRuleError)?.message == message
            }
        }
    }

    @Test func aPlanPrefixesTheFieldWithTheChargesPlace() {
        #expect {
            do throws(BillingRuleError) {
                let tiers = [tier(10, "1"), tier(20, "1")]
                _ = try Charge(billableMetric: "api_calls", model: .graduated(tiers: tiers), currency: usd)
            } catch {
                throw error.nested(under: "charges[2]")
            }
        } throws: { error in
            let error = error as? BillingRuleError
            return error?.field == "charges[2].tiers[1].up_to" && error?.code == .invalidCharge
        }
        let whole = BillingRuleError(.invalidCharge, "charges must name each metric once").nested(under: "charges[3]")
        #expect(whole.field == "charges[3]")
    }
}
