import BillingDomain
import Foundation

/// What a payment provider is asked to do: charge a saved method, identified by its token.
public struct ChargeRequest: Sendable, Hashable {
    public var amount: Money
    public var token: String
    /// Stable per invoice and attempt, so a provider never charges one attempt twice.
    public var idempotencyKey: String
}

/// A refund of (part of) a charge, for a credit note.
public struct RefundRequest: Sendable, Hashable {
    public var amount: Money
    /// The provider's reference of the charge refunded.
    public var chargeReference: String
    /// Stable per refund, so a provider never refunds one twice.
    public var idempotencyKey: String
}

public struct RefundResult: Sendable, Hashable {
    public var succeeded: Bool
    public var reference: String
    public var failureCode: String?
    public var failureMessage: String?
}

public struct ChargeResult: Sendable, Hashable {
    public var succeeded: Bool
    public var reference: String
    public var failureCode: String?
    public var failureMessage: String?
}

/// A card as a provider describes a token (never the number).
public struct CardDetails: Sendable, Hashable {
    public var brand: String
    public var last4: String
    public var expMonth: Int
    public var expYear: Int
}

/// The payment provider interface (DESIGN §6). Calls run inside the worker's transaction, so a
/// provider must answer quickly and be idempotent on `idempotencyKey` (the sandbox is in-process).
public protocol PaymentProvider: Sendable {
    /// The card a token stands for; nil for a token the provider does not know.
    func card(forToken token: String) -> CardDetails?
    func charge(_ request: ChargeRequest) -> ChargeResult
    func refund(_ request: RefundRequest) -> RefundResult
}

/// Stripe-style test tokens: `pm_card_visa` and `pm_card_mastercard` succeed,
/// `pm_card_chargeDeclined` declines, `pm_card_insufficientFunds` declines with that reason.
public struct SandboxPaymentProvider: PaymentProvider {
    public init() {}

    static let cards: [String: CardDetails] = [
        "pm_card_visa": CardDetails(brand: "visa", last4: "4242", expMonth: 12, expYear: 2034),
        "pm_card_mastercard": CardDetails(brand: "mastercard", last4: "4444", expMonth: 12, expYear: 2034),
        "pm_card_chargeDeclined": CardDetails(brand: "visa", last4: "0002", expMonth: 12, expYear: 2034),
        "pm_card_insufficientFunds": CardDetails(brand: "visa", last4: "9995", expMonth: 12, expYear: 2034),
    ]

    public func card(forToken token: String) -> CardDetails? { Self.cards[token] }

    /// Refunds at once: every sandbox charge that succeeded can be refunded.
    public func refund(_ request: RefundRequest) -> RefundResult {
        guard request.chargeReference.hasPrefix("ch_sandbox_") else {
            return RefundResult(
                succeeded: false, reference: "none", failureCode: "charge_unknown",
                failureMessage: "the payment provider knows no charge \(request.chargeReference)")
        }
        return RefundResult(succeeded: true, reference: "re_sandbox_" + request.idempotencyKey)
    }

    public func charge(_ request: ChargeRequest) -> ChargeResult {
        let reference = "ch_sandbox_" + request.idempotencyKey
        switch request.token {
        case "pm_card_visa", "pm_card_mastercard":
            return ChargeResult(succeeded: true, reference: reference)
        case "pm_card_insufficientFunds":
            return ChargeResult(
                succeeded: false, reference: reference, failureCode: "insufficient_funds",
                failureMessage: "the card has insufficient funds")
        case "pm_card_chargeDeclined":
            return ChargeResult(
                succeeded: false, reference: reference, failureCode: "card_declined", failureMessage: "the card was declined")
        default:
            return ChargeResult(
                succeeded: false, reference: reference, failureCode: "invalid_payment_method",
                failureMessage: "the payment method is not known to the provider")
        }
    }
}
