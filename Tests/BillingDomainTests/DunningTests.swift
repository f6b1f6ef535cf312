import BillingDomain
import Foundation
import Testing

@Suite("Dunning schedule")
struct DunningTests {
    /// The renewal charge failed on 2024-02-28 10:00; retries count from then: days 1, 3, 5, 7.
    @Test(arguments: [
        (1, "2024-02-29T10:00:00Z"), (2, "2024-03-02T10:00:00Z"), (3, "2024-03-04T10:00:00Z"),
        (4, "2024-03-06T10:00:00Z"),
    ])
    func standardRetriesAfterOneThreeFiveSevenDays(failures: Int, nextAttempt: String) {
        let step = DunningPolicy.standard.step(afterFailure: failures, firstFailureAt: utc("2024-02-28T10:00:00Z"))
        #expect(step == .retry(at: utc(nextAttempt)))
    }

    @Test func afterTheFifthFailureTheSubscriptionBecomesUnpaidAndTheInvoiceStaysOpen() throws {
        let step = DunningPolicy.standard.step(afterFailure: 5, firstFailureAt: utc("2024-02-28T10:00:00Z"))
        #expect(step == .exhausted(subscription: .dunningExhausted(.unpaid), invoice: nil))
        guard case .exhausted(let subscriptionEvent, let invoiceEvent) = step else { return }
        #expect(try SubscriptionStatus.pastDue.applying(subscriptionEvent) == .unpaid)
        #expect(invoiceEvent == nil)
    }

    @Test func configuredScheduleCancelsAndMarksTheInvoiceUncollectible() throws {
        let policy = try DunningPolicy(retryAfterDays: [2, 4], whenExhausted: .canceled, markInvoiceUncollectible: true)
        let failed = utc("2024-12-31T23:30:00Z")
        #expect(policy.step(afterFailure: 1, firstFailureAt: failed) == .retry(at: utc("2025-01-02T23:30:00Z")))
        #expect(policy.step(afterFailure: 2, firstFailureAt: failed) == .retry(at: utc("2025-01-04T23:30:00Z")))
        let last = policy.step(afterFailure: 3, firstFailureAt: failed)
        #expect(last == .exhausted(subscription: .dunningExhausted(.canceled), invoice: .markUncollectible))
        guard case .exhausted(let subscriptionEvent, let invoiceEvent?) = last else { return }
        #expect(try SubscriptionStatus.pastDue.applying(subscriptionEvent) == .canceled)
        #expect(try InvoiceStatus.open.applying(invoiceEvent) == .uncollectible)
    }

    @Test func offsetsInSecondsForShortSchedules() throws {
        let policy = try DunningPolicy(retryOffsets: [60, 300])
        let failed = utc("2024-02-28T10:00:00Z").addingTimeInterval(0.4)  // counts from the whole second
        #expect(policy.step(afterFailure: 1, firstFailureAt: failed) == .retry(at: utc("2024-02-28T10:01:00Z")))
        #expect(policy.step(afterFailure: 2, firstFailureAt: failed) == .retry(at: utc("2024-02-28T10:05:00Z")))
        #expect(policy.step(afterFailure: 3, firstFailureAt: failed) == .exhausted(
            subscription: .dunningExhausted(.unpaid), invoice: nil))
    }

    @Test func noRetriesMeansTheFirstFailureIsTheLast() throws {
        let policy = try DunningPolicy(retryOffsets: [], whenExhausted: .canceled)
        #expect(policy.step(afterFailure: 1, firstFailureAt: utc("2024-02-28T10:00:00Z")) == .exhausted(
            subscription: .dunningExhausted(.canceled), invoice: nil))
    }

    @Test(arguments: [[3, 1], [0, 1], [1, 1], [-1]])
    func scheduleMustBePositiveAndIncreasing(days: [Int]) {
        #expect {
            try DunningPolicy(retryAfterDays: days)
        } throws: { error in
            (error as? BillingRuleError)?.code == .invalidDunningSchedule
        }
    }

    @Test func defaultsAreTheDesignsDefaults() {
        #expect(DunningPolicy.standard.retryOffsets == [86_400, 259_200, 432_000, 604_800])
        #expect(DunningPolicy.standard.whenExhausted == .unpaid)
        #expect(!DunningPolicy.standard.markInvoiceUncollectible)
    }
}
