import BillingDomain
import MessageBus

// schemas/commands/customer.*.json as types (CommandCatalogTests keeps them in agreement).

/// A new customer: `POST /v1/customers`. `id` and `userID` are the auth worker's at signup (role
/// system): the handler refuses them from anyone else.
public struct CustomerDraft: Decodable, Sendable {
    public let name: Text<1, 200>
    public let email: EmailAddress
    public let metadata: Metadata?
    public let testClock: Text<1, 64>?
    /// The ID the signup pre-assigned (`cus_…`).
    public let id: Text<1, 80>?
    /// The login this customer belongs to.
    public let userID: Text<1, 80>?
}

/// What an update changes (`PATCH /v1/customers/{id}`); metadata is merged (an empty value removes its key).
public struct CustomerChanges: Decodable, Sendable {
    public let name: Text<1, 200>?
    public let email: EmailAddress?
    public let metadata: Metadata?
}

/// `GET /v1/customers`: by exact email (lowercased, as stored) and by status.
public struct CustomerFilters: Decodable, Sendable {
    public let email: EmailAddress?
    public let status: CustomerStatus?
}

extension Commands.CustomerCreate { public typealias Payload = Request<NoFields, NoFields, CustomerDraft> }
extension Commands.CustomerUpdate { public typealias Payload = Request<IDPath, NoFields, CustomerChanges> }
extension Commands.CustomerSuspend { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.CustomerReactivate { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.CustomerDelete { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.CustomerGet { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.CustomerExport { public typealias Payload = Request<IDPath, ExportQuery, NoFields> }

/// An export's page: up to `limit` (1–100, default 100) documents of each section, each section
/// continuing after its own cursor (the last ID of the previous page's section).
public struct ExportQuery: Decodable, Sendable {
    public let limit: Bounded<1, 100>?
    public let subscriptionsAfter: Text<1, 80>?
    public let invoicesAfter: Text<1, 80>?
    public let paymentMethodsAfter: Text<1, 80>?
}
extension Commands.CustomerMe { public typealias Payload = Request<NoFields, NoFields, NoFields> }
extension Commands.CustomerList { public typealias Payload = Request<NoFields, Listing<CustomerFilters>, NoFields> }
