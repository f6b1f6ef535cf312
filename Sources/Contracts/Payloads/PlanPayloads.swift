import BillingDomain
import MessageBus

// schemas/commands/plan.*.json as types (CommandCatalogTests keeps them in agreement).

/// A new plan: `POST /v1/plans`.
public struct PlanDraft: Decodable, Sendable {
    public let name: Text<1, 200>
    public let description: Text<0, 2000>?
    public let price: DecimalText
    public let currency: CurrencyCode
    public let interval: BillingInterval
    public let intervalCount: Bounded<1, 365>?
    public let trialDays: Bounded<0, 730>?
    public let features: Items<Text<0, 200>, 100>?
    public let metadata: Metadata?
}

/// What an update changes (`PATCH /v1/plans/{id}`): any of a draft's fields; metadata is merged
/// (an empty value removes its key).
public struct PlanChanges: Decodable, Sendable {
    public let name: Text<1, 200>?
    public let description: Text<0, 2000>?
    public let price: DecimalText?
    public let currency: CurrencyCode?
    public let interval: BillingInterval?
    public let intervalCount: Bounded<1, 365>?
    public let trialDays: Bounded<0, 730>?
    public let features: Items<Text<0, 200>, 100>?
    public let metadata: Metadata?
}

/// `GET /v1/plans`: a page of active plans, or of archived ones for staff (`active=false`).
public struct PlanFilters: Decodable, Sendable {
    public let active: Bool?
}

extension Commands.PlanCreate { public typealias Payload = Request<NoFields, NoFields, PlanDraft> }
extension Commands.PlanUpdate { public typealias Payload = Request<IDPath, NoFields, PlanChanges> }
extension Commands.PlanArchive { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.PlanGet { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.PlanList { public typealias Payload = Request<NoFields, Listing<PlanFilters>, NoFields> }
