import BillingDomain
import Testing

/// Every legal subscription transition, written out from DESIGN §6 independently of the code's table.
private let legalSubscriptionTransitions: [SubscriptionStatus: [SubscriptionEvent: SubscriptionStatus]] = [
    .trialing: [
        .trialEnd(paid: true): .active, .trialEnd(paid: false): .pastDue, .paymentSucceeded: .trialing,
        .changePlan: .trialing, .scheduleCancel: .trialing, .cancelNow: .canceled, .periodEndCancel: .canceled,
        .invoiceSent: .active,
    ],
    .active: [
        .paymentSucceeded: .active, .paymentFailed: .pastDue, .renewal: .active, .changePlan: .active,
        .scheduleCancel: .active, .cancelNow: .canceled, .periodEndCancel: .canceled, .pause: .paused,
    ],
    .pastDue: [
        .paymentSucceeded: .active, .paymentFailed: .pastDue, .renewal: .pastDue, .scheduleCancel: .pastDue,
        .cancelNow: .canceled, .periodEndCancel: .canceled,
        .dunningExhausted(.unpaid): .unpaid, .dunningExhausted(.canceled): .canceled,
    ],
    .unpaid: [
        .paymentSucceeded: .active, .paymentFailed: .unpaid, .cancelNow: .canceled, .periodEndCancel: .canceled,
    ],
    .paused: [.resume: .active, .cancelNow: .canceled],
    .canceled: [:],
    .incomplete: [
        .paymentSucceeded: .active, .paymentFailed: .incomplete, .firstPaymentExpired: .incompleteExpired,
        .cancelNow: .canceled, .invoiceSent: .active,
    ],
    .incompleteExpired: [:],
]

@Suite("Subscription state machine")
struct SubscriptionStatusTests {
    /// All 8 × 15 (status, event) pairs: the legal ones lead where the table says, the rest are refused.
    @Test(arguments: SubscriptionStatus.allCases, SubscriptionEvent.allCases)
    func everyStatusAndEvent(status: SubscriptionStatus, event: SubscriptionEvent) throws {
        if let expected = legalSubscriptionTransitions[status]?[event] {
            #expect(try status.applying(event) == expected)
        } else {
            #expect(throws: SubscriptionTransitionError(object: "subscription", from: status, event: event)) {
                try status.applying(event)
            }
        }
    }

    @Test func tableCountsThirtyFiveLegalTransitions() {
        let legal = SubscriptionStatus.allCases.flatMap { status in
            SubscriptionEvent.allCases.filter { SubscriptionStatus.transition(from: status, on: $0) != nil }
        }
        #expect(legal.count == 35)
    }

    @Test(arguments: [
        (SubscriptionStatus.pastDue, SubscriptionEvent.pause, "cannot pause: the subscription is past_due"),
        (.canceled, .resume, "cannot resume: the subscription is canceled"),
        (.canceled, .cancelNow, "cannot cancel: the subscription is canceled"),
        (.incompleteExpired, .paymentSucceeded,
         "cannot record a successful payment: the subscription is incomplete_expired"),
        (.paused, .changePlan, "cannot change the plan: the subscription is paused"),
        (.unpaid, .renewal, "cannot renew: the subscription is unpaid"),
        (.active, .trialEnd(paid: true), "cannot end the trial (paid): the subscription is active"),
        (.active, .dunningExhausted(.canceled), "cannot end dunning (canceled): the subscription is active"),
    ])
    func illegalTransitionNamesStatusAndEvent(status: SubscriptionStatus, event: SubscriptionEvent, message: String) {
        do {
            _ = try status.applying(event)
            Issue.record("\(event) on \(status) was allowed")
        } catch {
            #expect(error.from == status)
            #expect(error.event == event)
            #expect(error.code == "illegal_transition")
            #expect(error.description == message)
        }
    }

    @Test func newSubscriptionStartsTrialingOrIncomplete() {
        #expect(SubscriptionStatus.initial(withTrial: true) == .trialing)
        #expect(SubscriptionStatus.initial(withTrial: false) == .incomplete)
        #expect(SubscriptionStatus.incompleteWindow == 82_800)
    }

    @Test func statusesUseTheAPIsNames() {
        #expect(SubscriptionStatus.allCases.map(\.rawValue) == [
            "trialing", "active", "past_due", "unpaid", "paused", "canceled", "incomplete", "incomplete_expired",
        ])
        #expect(SubscriptionStatus.allCases.filter(\.isTerminal) == [.canceled, .incompleteExpired])
    }

    /// A year in the life: trial, renewal failing twice then paid, pause, resume, cancel at period end.
    @Test func aJourneyThroughTheMachine() throws {
        var status = SubscriptionStatus.initial(withTrial: true)
        let events: [SubscriptionEvent] = [
            .trialEnd(paid: true), .renewal, .paymentSucceeded, .changePlan, .renewal, .paymentFailed, .paymentFailed,
            .paymentSucceeded, .pause, .resume, .scheduleCancel, .periodEndCancel,
        ]
        var seen: [SubscriptionStatus] = []
        for event in events {
            status = try status.applying(event)
            seen.append(status)
        }
        #expect(seen.map(\.rawValue) == [
            "active", "active", "active", "active", "active", "past_due", "past_due", "active", "paused", "active",
            "active", "canceled",
        ])
    }

    @Test(arguments: [(DunningPolicy.SubscriptionOutcome.unpaid, "unpaid"), (.canceled, "canceled")])
    func dunningExhaustedFollowsConfiguration(outcome: DunningPolicy.SubscriptionOutcome, expected: String) throws {
        var status = try SubscriptionStatus.active.applying(.renewal)
        for _ in 0..<5 { status = try status.applying(.paymentFailed) }
        #expect(try status.applying(.dunningExhausted(outcome)).rawValue == expected)
    }
}
