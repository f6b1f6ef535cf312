import Foundation

/// When a failed renewal charge is retried and what happens after the last failure (DESIGN §6).
///
/// Retry offsets count from the first failure, not from the previous retry: the default
/// `[1, 3, 5, 7]` days retries on days 1, 3, 5 and 7 after the failed renewal.
public struct DunningPolicy: Sendable, Hashable {
    /// The subscription's status once every retry has failed.
    public enum SubscriptionOutcome: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
        case unpaid, canceled

        public var description: String { rawValue }

        var status: SubscriptionStatus { self == .unpaid ? .unpaid : .canceled }
    }

    /// Seconds after the first failure at which each retry happens, strictly increasing.
    public let retryOffsets: [Int]
    public let whenExhausted: SubscriptionOutcome
    /// Whether the invoice becomes `uncollectible` after the last failure (else it stays `open`).
    public let markInvoiceUncollectible: Bool

    /// Retries after 1, 3, 5 and 7 days; then `unpaid`, the invoice left `open`.
    public static let standard = DunningPolicy(
        checkedOffsets: [1, 3, 5, 7].map { $0 * 86_400 }, whenExhausted: .unpaid, markInvoiceUncollectible: false)

    private init(checkedOffsets: [Int], whenExhausted: SubscriptionOutcome, markInvoiceUncollectible: Bool) {
        self.retryOffsets = checkedOffsets
        self.whenExhausted = whenExhausted
        self.markInvoiceUncollectible = markInvoiceUncollectible
    }

    public init(
        retryOffsets: [Int], whenExhausted: SubscriptionOutcome = .unpaid, markInvoiceUncollectible: Bool = false
    ) throws(BillingRuleError) {
        guard retryOffsets.allSatisfy({ $0 > 0 }), zip(retryOffsets, retryOffsets.dropFirst()).allSatisfy({ $0 < $1 })
        else {
            throw BillingRuleError(
                .invalidDunningSchedule,
                "dunning retries must be positive and strictly increasing, got \(retryOffsets)")
        }
        self.init(
            checkedOffsets: retryOffsets, whenExhausted: whenExhausted, markInvoiceUncollectible: markInvoiceUncollectible)
    }

    /// A schedule in whole days after the first failure.
    public init(
        retryAfterDays days: [Int], whenExhausted: SubscriptionOutcome = .unpaid, markInvoiceUncollectible: Bool = false
    ) throws(BillingRuleError) {
        guard days.allSatisfy({ (1...3650).contains($0) }) else {
            throw BillingRuleError(.invalidDunningSchedule, "dunning retry days must be between 1 and 3650, got \(days)")
        }
        try self.init(
            retryOffsets: days.map { $0 * 86_400 }, whenExhausted: whenExhausted,
            markInvoiceUncollectible: markInvoiceUncollectible)
    }

    /// What follows the `failureCount`-th failed charge of an invoice (1 = the renewal charge itself).
    public func step(afterFailure failureCount: Int, firstFailureAt firstFailure: Date) -> DunningStep {
        let index = max(failureCount, 1) - 1
        guard index < retryOffsets.count else {
            return .exhausted(
                subscription: .dunningExhausted(whenExhausted),
                invoice: markInvoiceUncollectible ? .markUncollectible : nil)
        }
        return .retry(at: firstFailure.wholeSeconds.addingTimeInterval(TimeInterval(retryOffsets[index])))
    }
}

/// The next move of dunning after a failed charge.
public enum DunningStep: Sendable, Hashable {
    /// Try again at this time (the invoice's `next_payment_attempt`); the subscription stays `past_due`.
    case retry(at: Date)
    /// No retry left: apply these events to the subscription and, when given, the invoice.
    case exhausted(subscription: SubscriptionEvent, invoice: InvoiceEvent?)
}
