import Foundation

/// The unit of a plan's billing interval (`plans.interval`).
public enum BillingInterval: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case day, week, month, year

    public var description: String { rawValue }
}

/// A half-open span of time `[start, end)` billed as one unit. Boundaries are whole UTC seconds.
public struct BillingPeriod: Sendable, Hashable, Codable, CustomStringConvertible {
    public let start: Date
    public let end: Date

    /// Both ends are truncated to whole seconds, the unit proration counts in.
    public init(start: Date, end: Date) {
        self.start = start.wholeSeconds
        self.end = end.wholeSeconds
    }

    /// The length in whole seconds.
    public var seconds: Int { end.unixSeconds - start.unixSeconds }

    /// Whether `date` (truncated to its second) lies in `[start, end)`.
    public func contains(_ date: Date) -> Bool {
        let t = date.unixSeconds
        return start.unixSeconds <= t && t < end.unixSeconds
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(start: try container.decode(Date.self, forKey: .start), end: try container.decode(Date.self, forKey: .end))
    }

    public var description: String {
        "[\(start.formatted(.iso8601)), \(end.formatted(.iso8601)))"
    }
}

/// The periods of a subscription: `interval` × `intervalCount`, anchored on its start date.
///
/// The n-th boundary is `anchor + n × interval × intervalCount`, computed from the anchor itself,
/// never from the previous (possibly clamped) boundary, so a Jan 31 anchor gives Feb 28/29, then
/// Mar 31, then Apr 30. Months past their last day clamp to it. All calendar work is UTC Gregorian.
public struct BillingCycle: Sendable, Hashable {
    public let interval: BillingInterval
    public let intervalCount: Int
    /// The subscription's start (or, after a trial, the trial end), truncated to whole seconds.
    public let anchor: Date

    /// The largest `interval_count` the API accepts (schemas/openapi.yaml).
    public static let maxIntervalCount = 365

    public init(interval: BillingInterval, intervalCount: Int = 1, anchor: Date) throws(BillingRuleError) {
        guard (1...Self.maxIntervalCount).contains(intervalCount) else {
            throw BillingRuleError(
                .invalidIntervalCount,
                "interval_count must be between 1 and \(Self.maxIntervalCount), got \(intervalCount)",
                field: "interval_count")
        }
        self.interval = interval
        self.intervalCount = intervalCount
        self.anchor = anchor.wholeSeconds
    }

    /// The n-th boundary: the anchor for n = 0, the end of the first period for n = 1, and so on.
    public func boundary(_ n: Int) -> Date {
        switch interval {
        case .day: return anchor.addingTimeInterval(TimeInterval(n * intervalCount * 86_400))
        case .week: return anchor.addingTimeInterval(TimeInterval(n * intervalCount * 7 * 86_400))
        case .month: return Self.adding(months: n * intervalCount, to: anchor)
        case .year: return Self.adding(months: n * intervalCount * 12, to: anchor)
        }
    }

    /// The n-th period (n = 0 is the first): `[boundary(n), boundary(n + 1))`.
    public func period(_ n: Int) -> BillingPeriod {
        BillingPeriod(start: boundary(n), end: boundary(n + 1))
    }

    /// The index of the period containing `date`, or nil when `date` is before the anchor.
    public func periodIndex(containing date: Date) -> Int? {
        let t = date.wholeSeconds
        guard t >= anchor else { return nil }
        // An estimate from the elapsed time, then corrected: boundaries are monotonic in n.
        let elapsed = t.unixSeconds - anchor.unixSeconds
        var n: Int
        switch interval {
        case .day: return elapsed / (intervalCount * 86_400)
        case .week: return elapsed / (intervalCount * 7 * 86_400)
        case .month: n = elapsed / (intervalCount * 31 * 86_400)
        case .year: n = elapsed / (intervalCount * 366 * 86_400)
        }
        while boundary(n + 1) <= t { n += 1 }
        while n > 0 && boundary(n) > t { n -= 1 }
        return n
    }

    /// The period containing `date`, or nil when `date` is before the anchor.
    public func period(containing date: Date) -> BillingPeriod? {
        periodIndex(containing: date).map(period)
    }

    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// `date` plus `months`, the day clamped to the target month's last day; time of day kept.
    static func adding(months: Int, to date: Date) -> Date {
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let monthIndex = parts.year! * 12 + (parts.month! - 1) + months
        let year = monthIndex.floorDiv(12)
        let month = monthIndex - year * 12 + 1
        let firstOfMonth = calendar.date(from: DateComponents(year: year, month: month, day: 1))!
        let lastDay = calendar.range(of: .day, in: .month, for: firstOfMonth)!.count
        let target = DateComponents(
            year: year, month: month, day: min(parts.day!, lastDay),
            hour: parts.hour, minute: parts.minute, second: parts.second)
        return calendar.date(from: target)!
    }
}

extension Int {
    /// Division rounding toward negative infinity (months before year 0 never happen, but stay right).
    fileprivate func floorDiv(_ d: Int) -> Int {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}

extension Date {
    /// Seconds since 1970, rounded down: the unit every billing rule counts in.
    var unixSeconds: Int { Int(timeIntervalSince1970.rounded(.down)) }

    /// This date truncated to its whole second.
    var wholeSeconds: Date { Date(timeIntervalSince1970: TimeInterval(unixSeconds)) }
}
