import Foundation

/// The states of a subscription (DESIGN §6). Change them only through ``applying(_:)``.
public enum SubscriptionStatus: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case trialing
    case active
    case pastDue = "past_due"
    case unpaid
    case paused
    case canceled
    /// The first invoice is not paid yet (pending or failed).
    case incomplete
    /// The first invoice was not paid within ``incompleteWindow``.
    case incompleteExpired = "incomplete_expired"

    public var description: String { rawValue }

    /// How long a new subscription may stay `incomplete` before it expires.
    public static let incompleteWindow: TimeInterval = 23 * 3600

    /// The status a new subscription starts in: `trialing` with a trial (its invoice is zero),
    /// else `incomplete` until the first invoice, charged at once, is paid.
    public static func initial(withTrial: Bool) -> SubscriptionStatus { withTrial ? .trialing : .incomplete }

    /// Whether nothing can happen to the subscription any more.
    public var isTerminal: Bool { self == .canceled || self == .incompleteExpired }

    /// The status after `event`, or ``SubscriptionTransitionError`` when the event is not allowed now.
    public func applying(_ event: SubscriptionEvent) throws(SubscriptionTransitionError) -> SubscriptionStatus {
        guard let next = Self.transition(from: self, on: event) else {
            throw SubscriptionTransitionError(object: "subscription", from: self, event: event)
        }
        return next
    }

    /// The one table of legal transitions: the next status, or nil when `event` is illegal in `status`.
    public static func transition(from status: SubscriptionStatus, on event: SubscriptionEvent) -> SubscriptionStatus? {
        switch (status, event) {
        // Trial.
        case (.trialing, .trialEnd(let paid)): paid ? .active : .pastDue
        case (.trialing, .paymentSucceeded): .trialing  // a zero invoice paid during the trial
        // First payment.
        case (.incomplete, .paymentSucceeded): .active
        case (.incomplete, .invoiceSent), (.trialing, .invoiceSent): .active
        case (.incomplete, .paymentFailed): .incomplete
        case (.incomplete, .firstPaymentExpired): .incompleteExpired
        // Renewals and their payments.
        case (.active, .renewal), (.pastDue, .renewal): status
        case (.active, .paymentSucceeded), (.pastDue, .paymentSucceeded), (.unpaid, .paymentSucceeded): .active
        case (.active, .paymentFailed), (.pastDue, .paymentFailed): .pastDue
        case (.unpaid, .paymentFailed): .unpaid
        case (.pastDue, .dunningExhausted(let outcome)): outcome.status
        // Changes the customer asks for.
        case (.trialing, .changePlan), (.active, .changePlan): status
        case (.trialing, .scheduleCancel), (.active, .scheduleCancel), (.pastDue, .scheduleCancel): status
        case (.active, .pause): .paused
        case (.paused, .resume): .active
        // Cancellation.
        case (.trialing, .cancelNow), (.active, .cancelNow), (.pastDue, .cancelNow), (.unpaid, .cancelNow),
            (.paused, .cancelNow), (.incomplete, .cancelNow):
            .canceled
        case (.trialing, .periodEndCancel), (.active, .periodEndCancel), (.pastDue, .periodEndCancel),
            (.unpaid, .periodEndCancel):
            .canceled
        default: nil
        }
    }
}

/// What can happen to a subscription: the scheduler's transitions, payment outcomes and the
/// customer's requests.
public enum SubscriptionEvent: Sendable, Hashable, CustomStringConvertible {
    /// The trial ended; `paid` tells whether the first real invoice was paid.
    case trialEnd(paid: Bool)
    /// The subscription's outstanding invoice was paid.
    case paymentSucceeded
    /// A charge for the subscription's invoice failed.
    case paymentFailed
    /// `current_period_end` was reached: a new period and invoice (its charge reports separately).
    case renewal
    /// The plan changes (prorated or not); the status stays.
    case changePlan
    /// `cancel_at_period_end` set; the status stays until ``periodEndCancel``.
    case scheduleCancel
    case cancelNow
    /// The period ended on a subscription set to cancel at period end.
    case periodEndCancel
    case pause
    /// Resume starts a new period (its invoice's charge reports separately).
    case resume
    /// The first invoice was sent for payment by its due date (`collection_method: send_invoice`):
    /// the customer is trusted with net terms, the subscription is active (a trial's end too).
    case invoiceSent
    /// The first invoice stayed unpaid for ``SubscriptionStatus/incompleteWindow``.
    case firstPaymentExpired
    /// The last dunning retry failed; the status configured in ``DunningPolicy`` follows.
    case dunningExhausted(DunningPolicy.SubscriptionOutcome)

    /// Every event, each payload value included (for exhaustive tests and docs).
    public static let allCases: [SubscriptionEvent] = [
        .trialEnd(paid: true), .trialEnd(paid: false), .paymentSucceeded, .paymentFailed, .renewal, .changePlan,
        .scheduleCancel, .cancelNow, .periodEndCancel, .pause, .resume, .invoiceSent, .firstPaymentExpired,
        .dunningExhausted(.unpaid), .dunningExhausted(.canceled),
    ]

    /// The event as the verb of an error message ("cannot pause: the subscription is canceled").
    public var description: String {
        switch self {
        case .trialEnd(let paid): paid ? "end the trial (paid)" : "end the trial (unpaid)"
        case .paymentSucceeded: "record a successful payment"
        case .paymentFailed: "record a failed payment"
        case .renewal: "renew"
        case .changePlan: "change the plan"
        case .scheduleCancel: "schedule a cancellation"
        case .cancelNow: "cancel"
        case .periodEndCancel: "cancel at period end"
        case .pause: "pause"
        case .resume: "resume"
        case .invoiceSent: "send the first invoice on net terms"
        case .firstPaymentExpired: "expire"
        case .dunningExhausted(let outcome): "end dunning (\(outcome))"
        }
    }
}

public typealias SubscriptionTransitionError = IllegalTransition<SubscriptionStatus, SubscriptionEvent>
