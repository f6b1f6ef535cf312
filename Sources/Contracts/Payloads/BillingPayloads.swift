import BillingDomain
import Foundation
import MessageBus

// schemas/commands/{subscription,invoice,payment_method,test_clock}.*.json as types.

/// How a subscription's invoices are paid (DESIGN §13, Stripe's values).
public enum CollectionMethod: String, Codable, Sendable, CaseIterable {
    /// Charged to the default payment method when issued (the default).
    case chargeAutomatically = "charge_automatically"
    /// Sent for payment by `due_at = issued_at + days_until_due` (net terms): never charged automatically.
    case sendInvoice = "send_invoice"
}

/// `POST /v1/subscriptions`. `customer_id` is required of admins and service clients; a customer
/// subscribes itself. `trial_days` is the merchant's to give.
public struct SubscriptionDraft: Decodable, Sendable {
    public let customerID: Text<1, 64>?
    public let planID: Text<1, 64>
    public let defaultPaymentMethod: Text<0, 64>?
    public let trialDays: Bounded<0, 730>?
    public let metadata: Metadata?
    /// A coupon to apply (`co_…`).
    public let coupon: Text<1, 64>?
    /// Tax rates for the subscription's invoices (staff only).
    public let defaultTaxRates: Items<Text<1, 64>, 5>?
    /// Net terms (staff only): `send_invoice` with `days_until_due`.
    public let collectionMethod: CollectionMethod?
    public let daysUntilDue: Bounded<1, 365>?
}

/// `PATCH /v1/subscriptions/{id}`.
public struct SubscriptionChanges: Decodable, Sendable {
    public let defaultPaymentMethod: Text<0, 64>?
    public let metadata: Metadata?
    /// A coupon to apply; `""` removes the discount (staff only).
    public let coupon: Text<0, 64>?
    /// Replaces the subscription's tax rates; `[]` clears them (staff only).
    public let defaultTaxRates: Items<Text<1, 64>, 5>?
    /// Net terms for its next invoices (staff only).
    public let collectionMethod: CollectionMethod?
    public let daysUntilDue: Bounded<1, 365>?
}

/// How a plan change bills the rest of the period.
public enum ProrationBehavior: String, Decodable, Sendable, CaseIterable {
    case createProrations = "create_prorations"
    case none
}

/// `POST /v1/subscriptions/{id}/change-plan`; `proration` is the merchant's to choose.
public struct PlanChange: Decodable, Sendable {
    public let planID: Text<1, 64>
    public let proration: ProrationBehavior?
}

/// `POST /v1/subscriptions/{id}/cancel`; `prorate` (a credit for unused time) is the merchant's.
public struct Cancellation: Decodable, Sendable {
    public let atPeriodEnd: Bool?
    public let prorate: Bool?
}

/// `GET /v1/subscriptions` filters.
public struct SubscriptionFilters: Decodable, Sendable {
    public let customerID: Text<0, 64>?
    public let status: SubscriptionStatus?
}

/// What the scheduler sends (`subscription.renew` …, `invoice.retry_payment`): the object and the
/// time the work fell due.
public struct DueWork: Decodable, Sendable {
    public let id: String
    public let dueAt: Date
}

/// `POST /v1/invoices/{id}/pay`.
public struct InvoicePayment: Decodable, Sendable {
    public let paymentMethod: Text<0, 64>?
}

/// `GET /v1/invoices` filters.
public struct InvoiceFilters: Decodable, Sendable {
    public let subscriptionID: Text<0, 64>?
    public let customerID: Text<0, 64>?
    public let status: InvoiceStatus?
}

/// `GET /v1/invoices/upcoming?subscription=…[&plan=…]`.
public struct UpcomingQuery: Decodable, Sendable {
    public let subscription: Text<1, 64>
    public let plan: Text<1, 64>?
}

/// `POST /v1/invoice-items`: `quantity × unit_amount` (a negative unit amount is a credit), pending
/// until the customer's next invoice: its subscription's next cycle invoice when `subscription_id` is
/// given, else the next one in its currency.
public struct InvoiceItemDraft: Decodable, Sendable {
    public let customerID: Text<1, 64>
    public let description: Text<1, 500>
    public let unitAmount: DecimalText
    public let quantity: Bounded<1, 100_000>?
    public let currency: CurrencyCode
    public let subscriptionID: Text<1, 64>?
    public let metadata: Metadata?
}

/// `GET /v1/invoice-items` filters.
public struct InvoiceItemFilters: Decodable, Sendable {
    public let customerID: Text<0, 64>?
    public let pending: Bool?
}

/// `POST /v1/invoices`: a draft from the customer's pending items in `currency`.
public struct InvoiceDraftRequest: Decodable, Sendable {
    public let customerID: Text<1, 64>
    public let currency: CurrencyCode
    public let collectionMethod: CollectionMethod?
    public let daysUntilDue: Bounded<1, 365>?
    public let defaultTaxRates: Items<Text<1, 64>, 5>?
}

/// The kinds of payment method the platform stores.
public enum PaymentMethodType: String, Decodable, Sendable, CaseIterable {
    case card
}

/// `POST /v1/payment-methods`: a provider token (`pm_card_visa`), never a card number.
/// `customer_id` is required of admins and service clients; a customer adds its own.
public struct PaymentMethodDraft: Decodable, Sendable {
    public let customerID: Text<0, 64>?
    public let type: PaymentMethodType?
    public let token: Text<1, 64>
    public let setDefault: Bool?
}

/// `GET /v1/payment-methods` filters.
public struct PaymentMethodFilters: Decodable, Sendable {
    public let customerID: Text<0, 64>?
}

/// `POST /v1/test-clocks`.
public struct TestClockDraft: Decodable, Sendable {
    public let name: Text<0, 200>?
    public let frozenTime: Date
}

/// `POST /v1/test-clocks/{id}/advance`.
public struct TestClockMove: Decodable, Sendable {
    public let frozenTime: Date
}


extension Commands.SubscriptionCreate { public typealias Payload = Request<NoFields, NoFields, SubscriptionDraft> }
extension Commands.SubscriptionGet { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.SubscriptionList { public typealias Payload = Request<NoFields, Listing<SubscriptionFilters>, NoFields> }
extension Commands.SubscriptionUpdate { public typealias Payload = Request<IDPath, NoFields, SubscriptionChanges> }
extension Commands.SubscriptionChangePlan { public typealias Payload = Request<IDPath, NoFields, PlanChange> }
extension Commands.SubscriptionCancel { public typealias Payload = Request<IDPath, NoFields, Cancellation> }
extension Commands.SubscriptionPause { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.SubscriptionResume { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.SubscriptionRenew { public typealias Payload = DueWork }
extension Commands.SubscriptionEndTrial { public typealias Payload = DueWork }
extension Commands.SubscriptionNoticeTrialEnd { public typealias Payload = DueWork }
extension Commands.SubscriptionExpireIncomplete { public typealias Payload = DueWork }
extension Commands.InvoiceGet { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.InvoiceList { public typealias Payload = Request<NoFields, Listing<InvoiceFilters>, NoFields> }
extension Commands.InvoiceItemCreate { public typealias Payload = Request<NoFields, NoFields, InvoiceItemDraft> }
extension Commands.InvoiceItemList { public typealias Payload = Request<NoFields, Listing<InvoiceItemFilters>, NoFields> }
extension Commands.InvoiceItemDelete { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.InvoiceCreate { public typealias Payload = Request<NoFields, NoFields, InvoiceDraftRequest> }
extension Commands.InvoiceFinalize { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.InvoiceUpcoming { public typealias Payload = Request<NoFields, UpcomingQuery, NoFields> }
extension Commands.InvoicePay { public typealias Payload = Request<IDPath, NoFields, InvoicePayment> }
extension Commands.InvoiceVoid { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.InvoiceMarkUncollectible { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.InvoiceRetryPayment { public typealias Payload = DueWork }
extension Commands.PaymentMethodCreate { public typealias Payload = Request<NoFields, NoFields, PaymentMethodDraft> }
extension Commands.PaymentMethodList { public typealias Payload = Request<NoFields, Listing<PaymentMethodFilters>, NoFields> }
extension Commands.PaymentMethodDelete { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.TestClockCreate { public typealias Payload = Request<NoFields, NoFields, TestClockDraft> }
extension Commands.TestClockGet { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.TestClockAdvance { public typealias Payload = Request<IDPath, NoFields, TestClockMove> }
