import BillingDomain
import Foundation
import Testing

@Suite("Proration by the second")
struct ProrationTests {
    /// Feb 2024 of a Jan 31 10:00 monthly subscription: 29 days, 2,505,600 s.
    let february: BillingPeriod = {
        let cycle = try? BillingCycle(interval: .month, anchor: utc("2024-01-31T10:00:00Z"))
        return cycle!.period(0)
    }()

    /// Figures worked out by hand from `price × unused/period`, then rounded half away from zero.
    @Test(arguments: [
        // Exact halves: half away from zero (banker's rounding would give 6.16 and 10.00).
        ("USD", "12.33", "20.01", 2, 86_400, "-6.17", "10.01"),
        // 19.99 / 2 = 9.995: a Double would see 9.99499… and round down.
        ("USD", "19.99", "19.99", 7, 302_400, "-10.00", "10.00"),
        // 3/8 of a period: 0.375 → 0.38 and 0.015 → 0.02.
        ("USD", "1.00", "0.04", 8, 259_200, "-0.38", "0.02"),
        // Thirds never terminate: 3.333… and 6.666….
        ("USD", "10.00", "20.00", 3, 86_400, "-3.33", "6.67"),
        // JPY has no minor unit: 500.5 → 501, 2.5 → 3.
        ("JPY", "1001", "5", 2, 86_400, "-501", "3"),
        ("JPY", "1000", "2000", 3, 86_400, "-333", "667"),
        // KWD has three: 5.0005 → 5.001, 0.0015 → 0.002; 21/31 of 7 and 2.5.
        ("KWD", "10.001", "0.003", 2, 86_400, "-5.001", "0.002"),
        ("KWD", "7.000", "2.500", 31, 21 * 86_400, "-4.742", "1.694"),
        // Eighteen integer digits stay exact: 61728394506172839.495 → .50.
        ("USD", "123456789012345678.99", "0.01", 2, 86_400, "-61728394506172839.50", "0.01"),
    ])
    func creditAndChargeRoundOnceHalfAwayFromZero(
        code: String, old: String, new: String, periodDays: Int, unusedSeconds: Int, credit: String, charge: String
    ) throws {
        let currency = try #require(Currency(code: code))
        let cycle = try BillingCycle(interval: .day, intervalCount: periodDays, anchor: utc("2024-01-01T00:00:00Z"))
        let period = cycle.period(0)
        let change = period.end.addingTimeInterval(TimeInterval(-unusedSeconds))
        let proration = try Proration.planChange(
            from: money(old, currency), to: money(new, currency), in: period, at: change)
        #expect(proration.credit.formatted == credit)
        #expect(proration.charge.formatted == charge)
        #expect(proration.remaining.seconds == unusedSeconds)
    }

    @Test func upgradeOnFebruary10IsChargedNow() throws {
        // 19 of 29 days unused: -10 × 19/29 = -6.5517…, 30 × 19/29 = 19.6551….
        let proration = try Proration.planChange(
            from: money("10.00"), to: money("30.00"), in: february, at: utc("2024-02-10T10:00:00Z"))
        #expect(proration.credit.formatted == "-6.55")
        #expect(proration.charge.formatted == "19.66")
        #expect(proration.net.formatted == "13.11")
        #expect(proration.isUpgrade)
        #expect(proration.periodSeconds == 2_505_600)
    }

    @Test func downgradeLeavesACredit() throws {
        let proration = try Proration.planChange(
            from: money("30.00"), to: money("10.00"), in: february, at: utc("2024-02-10T10:00:00Z"))
        #expect(proration.credit.formatted == "-19.66")
        #expect(proration.charge.formatted == "6.55")
        #expect(proration.net.formatted == "-13.11")
        #expect(!proration.isUpgrade)
    }

    @Test func changeAtTheFirstSecondCreditsAndChargesWholePrices() throws {
        let proration = try Proration.planChange(
            from: money("10.00"), to: money("30.00"), in: february, at: utc("2024-01-31T10:00:00Z"))
        #expect(proration.credit.formatted == "-10.00")
        #expect(proration.charge.formatted == "30.00")
        #expect(rfc3339(proration.remaining.start) == "2024-01-31T10:00:00Z")
    }

    @Test func changeAtTheLastSecondProratesOneSecond() throws {
        // 1 s of 2,505,600: 100,000 × 1/2,505,600 = 0.0399… and 10 × 1/2,505,600 ≈ 0.000004.
        let proration = try Proration.planChange(
            from: money("100000.00"), to: money("10.00"), in: february, at: utc("2024-02-29T09:59:59Z"))
        #expect(proration.credit.formatted == "-0.04")
        #expect(proration.charge.formatted == "0.00")
        #expect(proration.remaining.seconds == 1)
    }

    @Test func aFractionOfASecondDoesNotCount() throws {
        // 10:00:00.9 counts as 10:00:00: the whole 19 days are unused.
        let proration = try Proration.planChange(
            from: money("10.00"), to: money("30.00"), in: february,
            at: utc("2024-02-10T10:00:00Z").addingTimeInterval(0.9))
        #expect(proration.credit.formatted == "-6.55")
    }

    @Test func thirtyOneDayMonthInJPYAndKWD() throws {
        // March 2024: 31 days; change on March 11 00:00 leaves 21 days.
        let march = try BillingCycle(interval: .month, anchor: utc("2024-03-01T00:00:00Z")).period(0)
        #expect(march.seconds == 31 * 86_400)
        let yen = try Proration.planChange(
            from: money("1000", jpy), to: money("3000", jpy), in: march, at: utc("2024-03-11T00:00:00Z"))
        #expect(yen.credit.formatted == "-677")  // 677.419…
        #expect(yen.charge.formatted == "2032")  // 2032.258…
        let dinar = try Proration.planChange(
            from: money("7.000", kwd), to: money("2.500", kwd), in: march, at: utc("2024-03-11T00:00:00Z"))
        #expect(dinar.net.formatted == "-3.048")  // -4.742 + 1.694
    }

    @Test func planChangeAcrossCurrenciesIsRefused() {
        #expect {
            try Proration.planChange(
                from: money("10.00"), to: money("10.00", eur), in: february, at: utc("2024-02-10T10:00:00Z"))
        } throws: { error in
            let error = error as? BillingRuleError
            return error?.code == .currencyMismatch
                && error?.message == "the new plan is billed in EUR and the current one in USD; choose a plan in USD"
        }
    }

    @Test(arguments: ["2024-01-31T09:59:59Z", "2024-02-29T10:00:00Z", "2024-03-15T00:00:00Z"])
    func aTimeOutsideThePeriodIsRefused(time: String) {
        #expect {
            try Proration.planChange(from: money("10.00"), to: money("30.00"), in: february, at: utc(time))
        } throws: { error in
            (error as? BillingRuleError)?.code == .outsidePeriod
        }
    }

    @Test(arguments: [
        ("2024-01-31T10:00:00Z", "-30.00"), ("2024-02-10T10:00:00Z", "-19.66"), ("2024-02-29T09:59:59Z", "0.00"),
    ])
    func immediateCancelCreditsTheUnusedTime(at time: String, credit: String) throws {
        let amount = try Proration.unusedTimeCredit(price: money("30.00"), in: february, at: utc(time))
        #expect(amount.formatted == credit)
    }

    @Test func immediateCancelCreditInYen() throws {
        // 1 of 29 days of 2,900 yen: exactly 100.
        let credit = try Proration.unusedTimeCredit(
            price: money("2900", jpy), in: february, at: utc("2024-02-28T10:00:00Z"))
        #expect(credit.formatted == "-100")
    }

    @Test func linesSayWhatTheyAreFor() throws {
        let proration = try Proration.planChange(
            from: money("10.00"), to: money("30.00"), in: february, at: utc("2024-02-10T10:00:00Z"))
        let lines = proration.lines(oldPlanName: "Basic", newPlanName: "Pro")
        #expect(lines.map(\.description) == ["Unused time on Basic after 2024-02-10", "Remaining time on Pro after 2024-02-10"])
        #expect(lines.map(\.amount.formatted) == ["-6.55", "19.66"])
        #expect(lines.allSatisfy { $0.proration && $0.quantity == 1 })
        #expect(lines.map { rfc3339($0.period.start) } == ["2024-02-10T10:00:00Z", "2024-02-10T10:00:00Z"])
        #expect(lines.map { rfc3339($0.period.end) } == ["2024-02-29T10:00:00Z", "2024-02-29T10:00:00Z"])
    }
}
