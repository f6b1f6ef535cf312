import Foundation

/// Proration by the second (DESIGN §6): a change at time t in `[start, end)` of a period leaves
/// `unused = end − t` seconds; the old price is credited and the new one charged for that share.
public enum Proration {
    /// `price × unusedSeconds / periodSeconds`, rounded once to the currency's minor unit, half away
    /// from zero, with no intermediate rounding at all (see ``roundedQuotient(_:_:)``).
    static func share(of price: Money, unusedSeconds: Int, periodSeconds: Int) -> Money {
        precondition(periodSeconds > 0 && (0...periodSeconds).contains(unusedSeconds), "unused share outside the period")
        let scale = pow(Decimal(10), price.currency.exponent)
        let numerator = abs(price.amount) * scale * Decimal(unusedSeconds)
        let minorUnits = roundedQuotient(numerator, Decimal(periodSeconds))
        let magnitude = minorUnits / scale
        return Money(price.amount < 0 ? -magnitude : magnitude, price.currency)
    }

    /// The credit and charge lines for switching from `oldPrice` to `newPrice` at `time`.
    public static func planChange(
        from oldPrice: Money, to newPrice: Money, in period: BillingPeriod, at time: Date
    ) throws(BillingRuleError) -> PlanChangeProration {
        guard oldPrice.currency == newPrice.currency else {
            throw BillingRuleError(
                .currencyMismatch,
                "the new plan is billed in \(newPrice.currency) and the current one in \(oldPrice.currency); "
                    + "choose a plan in \(oldPrice.currency)")
        }
        let unused = try unusedSeconds(in: period, at: time)
        return PlanChangeProration(
            remaining: BillingPeriod(start: time, end: period.end),
            periodSeconds: period.seconds,
            credit: -share(of: oldPrice, unusedSeconds: unused, periodSeconds: period.seconds),
            charge: share(of: newPrice, unusedSeconds: unused, periodSeconds: period.seconds))
    }

    /// The credit for the unused rest of a period, `-price × unused/period` (a negative amount),
    /// for an immediate cancel or a change of interval that starts a new period now.
    public static func unusedTimeCredit(price: Money, in period: BillingPeriod, at time: Date) throws(BillingRuleError)
        -> Money
    {
        let unused = try unusedSeconds(in: period, at: time)
        return -share(of: price, unusedSeconds: unused, periodSeconds: period.seconds)
    }

    /// The credit for cancelling at `time`: the unused part of what was actually paid, never of a
    /// price that was not invoiced. Each paid line (a period's charge, a proration charge or credit)
    /// gives back `amount × seconds of it after time / its seconds`, rounded once per line; the sum
    /// is returned as a credit (zero or negative), never more than was paid and never a charge.
    public static func unusedPaidCredit(
        _ paid: [(amount: Money, period: BillingPeriod)], currency: Currency, at time: Date
    ) -> Money {
        var total = Money(0, currency)
        for line in paid where line.amount.currency == currency && line.period.seconds > 0 {
            let unused = line.period.end.unixSeconds - max(line.period.start.unixSeconds, time.unixSeconds)
            guard unused > 0 else { continue }
            let share = share(of: Money(abs(line.amount.amount), currency), unusedSeconds: unused, periodSeconds: line.period.seconds)
            total = line.amount.amount < 0 ? total - share : total + share
        }
        return total.amount > 0 ? -total : Money(0, currency)
    }

    /// `period.end − time` in whole seconds, for a time inside the period.
    public static func unusedSeconds(in period: BillingPeriod, at time: Date) throws(BillingRuleError) -> Int {
        guard period.contains(time) else {
            throw BillingRuleError(
                .outsidePeriod, "\(time.formatted(.iso8601)) is not within the current period \(period)")
        }
        return period.end.unixSeconds - time.unixSeconds
    }

    /// `n / d` for `n ≥ 0`, `d > 0`, rounded to an integer half away from zero, exactly.
    ///
    /// Decimal division keeps 38 digits, so its rounded result is checked against the defining
    /// inequality `(2r − 1)·d ≤ 2n < (2r + 1)·d` with exact multiplications and corrected.
    static func roundedQuotient(_ n: Decimal, _ d: Decimal) -> Decimal {
        var approximate = n / d
        var r = Decimal()
        NSDecimalRound(&r, &approximate, 0, .plain)
        while 2 * n >= (2 * r + 1) * d { r += 1 }
        while r > 0 && 2 * n < (2 * r - 1) * d { r -= 1 }
        return r
    }
}

/// The result of a prorated plan change: a credit for the old plan and a charge for the new one
/// over the rest of the period, each already rounded.
public struct PlanChangeProration: Sendable, Hashable {
    /// `[change time, period end)`: the time both lines cover.
    public let remaining: BillingPeriod
    /// The whole period's length, the denominator of the share.
    public let periodSeconds: Int
    /// `-old_price × unused/period`, rounded; zero or negative.
    public let credit: Money
    /// `new_price × unused/period`, rounded; zero or positive.
    public let charge: Money

    /// What the change costs now: positive for an upgrade, negative (a credit) for a downgrade.
    public var net: Money { credit + charge }

    /// Whether the change is invoiced and charged at once (DESIGN §6); otherwise its credit waits
    /// for the next invoice.
    public var isUpgrade: Bool { net.amount > 0 }

    /// The two invoice lines, in Stripe's wording: "Unused time on Basic after 2025-01-10" and
    /// "Remaining time on Pro after 2025-01-10".
    public func lines(oldPlanName: String, newPlanName: String) -> [InvoiceLine] {
        let after = remaining.start.formatted(.iso8601.year().month().day())
        return [
            InvoiceLine(prorationOf: credit, description: "Unused time on \(oldPlanName) after \(after)", period: remaining),
            InvoiceLine(prorationOf: charge, description: "Remaining time on \(newPlanName) after \(after)", period: remaining),
        ]
    }
}
