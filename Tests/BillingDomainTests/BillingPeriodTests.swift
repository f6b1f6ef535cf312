import BillingDomain
import Foundation
import Testing

@Suite("Billing periods")
struct BillingPeriodTests {
    /// Jan 31 monthly: every end is anchor + n months, clamped, never derived from the previous end.
    @Test(arguments: [
        (1, "2024-02-29T10:00:00Z"), (2, "2024-03-31T10:00:00Z"), (3, "2024-04-30T10:00:00Z"),
        (4, "2024-05-31T10:00:00Z"), (5, "2024-06-30T10:00:00Z"), (6, "2024-07-31T10:00:00Z"),
        (7, "2024-08-31T10:00:00Z"), (8, "2024-09-30T10:00:00Z"), (9, "2024-10-31T10:00:00Z"),
        (10, "2024-11-30T10:00:00Z"), (11, "2024-12-31T10:00:00Z"), (12, "2025-01-31T10:00:00Z"),
        (13, "2025-02-28T10:00:00Z"), (14, "2025-03-31T10:00:00Z"),
    ])
    func monthlyFromJanuary31ClampsToEachMonthEnd(n: Int, expectedEnd: String) throws {
        let cycle = try BillingCycle(interval: .month, anchor: utc("2024-01-31T10:00:00Z"))
        #expect(rfc3339(cycle.period(n - 1).end) == expectedEnd)
        #expect(rfc3339(cycle.period(n).start) == expectedEnd)
    }

    @Test(arguments: [
        // Feb 29 yearly: Feb 28 in common years, Feb 29 again in 2028; 2100 is not a leap year.
        (BillingInterval.year, 1, "2024-02-29T00:00:00Z", 1, "2025-02-28T00:00:00Z"),
        (.year, 1, "2024-02-29T00:00:00Z", 2, "2026-02-28T00:00:00Z"),
        (.year, 1, "2024-02-29T00:00:00Z", 3, "2027-02-28T00:00:00Z"),
        (.year, 1, "2024-02-29T00:00:00Z", 4, "2028-02-29T00:00:00Z"),
        (.year, 1, "2024-02-29T00:00:00Z", 5, "2029-02-28T00:00:00Z"),
        (.year, 1, "2096-02-29T00:00:00Z", 4, "2100-02-28T00:00:00Z"),
        (.year, 2, "2024-02-29T00:00:00Z", 2, "2028-02-29T00:00:00Z"),
        // Jan 31 monthly in a common year.
        (.month, 1, "2023-01-31T23:59:59Z", 1, "2023-02-28T23:59:59Z"),
        (.month, 1, "2023-01-31T23:59:59Z", 2, "2023-03-31T23:59:59Z"),
        // Aug 31 monthly: 30-day months clamp, 31-day months don't.
        (.month, 1, "2024-08-31T08:30:00Z", 1, "2024-09-30T08:30:00Z"),
        (.month, 1, "2024-08-31T08:30:00Z", 2, "2024-10-31T08:30:00Z"),
        (.month, 1, "2024-08-31T08:30:00Z", 3, "2024-11-30T08:30:00Z"),
        // Quarterly from Nov 30, across a leap February and a year end.
        (.month, 3, "2023-11-30T00:00:00Z", 1, "2024-02-29T00:00:00Z"),
        (.month, 3, "2023-11-30T00:00:00Z", 2, "2024-05-30T00:00:00Z"),
        (.month, 3, "2023-11-30T00:00:00Z", 3, "2024-08-30T00:00:00Z"),
        (.month, 3, "2023-11-30T00:00:00Z", 4, "2024-11-30T00:00:00Z"),
        (.month, 3, "2023-11-30T00:00:00Z", 5, "2025-02-28T00:00:00Z"),
        // Weekly across Feb 29 and a year end.
        (.week, 1, "2024-02-26T00:00:00Z", 1, "2024-03-04T00:00:00Z"),
        (.week, 1, "2024-02-26T00:00:00Z", 2, "2024-03-11T00:00:00Z"),
        (.week, 2, "2024-12-25T15:00:00Z", 1, "2025-01-08T15:00:00Z"),
        (.week, 2, "2024-12-25T15:00:00Z", 3, "2025-02-05T15:00:00Z"),
        // Daily through Feb 29.
        (.day, 1, "2024-02-28T12:00:00Z", 1, "2024-02-29T12:00:00Z"),
        (.day, 1, "2024-02-28T12:00:00Z", 2, "2024-03-01T12:00:00Z"),
        (.day, 30, "2024-01-31T00:00:00Z", 1, "2024-03-01T00:00:00Z"),
        (.day, 1, "2023-12-31T23:00:00Z", 1, "2024-01-01T23:00:00Z"),
    ])
    func nthBoundaryIsAnchorPlusNIntervals(
        interval: BillingInterval, count: Int, anchor: String, n: Int, expected: String
    ) throws {
        let cycle = try BillingCycle(interval: interval, intervalCount: count, anchor: utc(anchor))
        #expect(rfc3339(cycle.boundary(n)) == expected)
    }

    @Test(arguments: [
        // (date, period start, period end) for a Jan 31 10:00 monthly cycle.
        ("2024-01-31T10:00:00Z", "2024-01-31T10:00:00Z", "2024-02-29T10:00:00Z"),
        ("2024-02-29T09:59:59Z", "2024-01-31T10:00:00Z", "2024-02-29T10:00:00Z"),
        ("2024-02-29T10:00:00Z", "2024-02-29T10:00:00Z", "2024-03-31T10:00:00Z"),
        ("2024-04-15T00:00:00Z", "2024-03-31T10:00:00Z", "2024-04-30T10:00:00Z"),
        ("2025-02-28T10:00:00Z", "2025-02-28T10:00:00Z", "2025-03-31T10:00:00Z"),
        ("2030-06-30T10:00:00Z", "2030-06-30T10:00:00Z", "2030-07-31T10:00:00Z"),
        ("2030-07-31T09:00:00Z", "2030-06-30T10:00:00Z", "2030-07-31T10:00:00Z"),
    ])
    func periodContainingADate(date: String, start: String, end: String) throws {
        let cycle = try BillingCycle(interval: .month, anchor: utc("2024-01-31T10:00:00Z"))
        let period = try #require(cycle.period(containing: utc(date)))
        #expect(rfc3339(period.start) == start)
        #expect(rfc3339(period.end) == end)
    }

    @Test(arguments: [
        (BillingInterval.day, 1, "2024-03-10T11:59:59Z", 9),
        (.day, 1, "2024-03-10T12:00:00Z", 10),
        (.week, 1, "2024-03-08T12:00:00Z", 1),
        (.week, 2, "2024-03-28T11:59:59Z", 1),
        (.week, 2, "2024-03-28T12:00:00Z", 2),
        (.month, 1, "2025-03-01T12:00:00Z", 12),
        (.month, 12, "2025-03-01T12:00:00Z", 1),
        (.year, 1, "2034-02-28T11:59:59Z", 9),
        (.year, 1, "2034-02-28T12:00:00Z", 10),
        (.year, 1, "2036-02-29T11:59:59Z", 11),
        (.year, 1, "2036-02-29T12:00:00Z", 12),
    ])
    func periodIndexForADate(interval: BillingInterval, count: Int, date: String, expected: Int) throws {
        let cycle = try BillingCycle(interval: interval, intervalCount: count, anchor: utc("2024-02-29T12:00:00Z"))
        #expect(cycle.periodIndex(containing: utc(date)) == expected)
    }

    @Test func noPeriodBeforeTheAnchor() throws {
        let cycle = try BillingCycle(interval: .month, anchor: utc("2024-01-31T10:00:00Z"))
        #expect(cycle.period(containing: utc("2024-01-31T09:59:59Z")) == nil)
    }

    @Test(arguments: [
        // A period's length in seconds: 29-, 30- and 31-day months, a leap and a common year.
        ("2024-01-31T10:00:00Z", BillingInterval.month, 0, 29 * 86_400),
        ("2024-01-31T10:00:00Z", .month, 2, 30 * 86_400),
        ("2024-01-31T10:00:00Z", .month, 1, 31 * 86_400),
        ("2023-01-31T10:00:00Z", .month, 0, 28 * 86_400),
        ("2024-01-01T00:00:00Z", .year, 0, 366 * 86_400),
        ("2025-01-01T00:00:00Z", .year, 0, 365 * 86_400),
    ])
    func periodLengthInSeconds(anchor: String, interval: BillingInterval, n: Int, seconds: Int) throws {
        let cycle = try BillingCycle(interval: interval, anchor: utc(anchor))
        #expect(cycle.period(n).seconds == seconds)
    }

    @Test(arguments: [0, -1, 366])
    func intervalCountOutsideOneTo365IsRefused(count: Int) {
        #expect {
            try BillingCycle(interval: .month, intervalCount: count, anchor: utc("2024-01-01T00:00:00Z"))
        } throws: { error in
            let error = error as? BillingRuleError
            return error?.code == .invalidIntervalCount && error?.field == "interval_count"
        }
    }

    @Test func anchorIsTruncatedToTheSecond() throws {
        let anchor = utc("2024-01-31T10:00:00Z").addingTimeInterval(0.75)
        let cycle = try BillingCycle(interval: .month, anchor: anchor)
        #expect(rfc3339(cycle.anchor) == "2024-01-31T10:00:00Z")
        #expect(cycle.anchor.timeIntervalSince1970 == utc("2024-01-31T10:00:00Z").timeIntervalSince1970)
        #expect(cycle.period(containing: anchor)?.start == cycle.anchor)
    }
}
