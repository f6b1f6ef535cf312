import BillingDomain
import Foundation
import MessageBus

// The customer worker's answers (schemas/openapi.yaml `Customer`, `CustomerExport`).

/// A customer as the API shows it; `deleted_at` only once erased.
public struct Customer: Codable, Sendable {
    public var id: String
    public var object = "customer"
    public var name, email: String
    public var status: CustomerStatus
    public var metadata: [String: String]
    public var testClock: String?
    public var createdAt, updatedAt: Date
    public var deletedAt: Date?

    public init(
        id: String, name: String, email: String, status: CustomerStatus, metadata: [String: String], testClock: String?,
        createdAt: Date, updatedAt: Date, deletedAt: Date?
    ) {
        (self.id, self.name, self.email, self.status, self.metadata) = (id, name, email, status, metadata)
        (self.testClock, self.createdAt, self.updatedAt, self.deletedAt) = (testClock, createdAt, updatedAt, deletedAt)
    }
}

/// Everything held about a customer (GDPR art. 15 and 20): its stored documents as they are, with
/// their internal fields (`_id` shown as `id`), which no resource type describes. Each section is
/// one page (``ExportQuery``): a reply stays bounded however much a customer has.
public struct CustomerExport: Codable, Sendable {
    public var object = "customer_export"
    public var exportedAt: Date
    public var customer: JSONValue
    public var subscriptions: ExportSection
    public var invoices: ExportSection
    public var paymentMethods: ExportSection

    /// One section's page: `has_more` says to ask again with `<section>_after` = the last `data` ID.
    public struct ExportSection: Codable, Sendable {
        public var object = "list"
        public var data: [JSONValue]
        public var hasMore: Bool

        public init(data: [JSONValue], hasMore: Bool) {
            (self.data, self.hasMore) = (data, hasMore)
        }
    }

    public init(
        exportedAt: Date, customer: JSONValue, subscriptions: ExportSection, invoices: ExportSection,
        paymentMethods: ExportSection
    ) {
        (self.exportedAt, self.customer) = (exportedAt, customer)
        (self.subscriptions, self.invoices, self.paymentMethods) = (subscriptions, invoices, paymentMethods)
    }
}
