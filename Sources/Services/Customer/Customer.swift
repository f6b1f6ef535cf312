import BillingDomain
import Contracts
import Foundation
import MessageBus
import Mongo
import ServiceKit

/// One document of the `customers` collection (schemas/collections/customers.json).
struct CustomerDocument: Codable, Sendable {
    var id: String
    var tenantID: String
    var name: String
    /// Lowercased; unique per tenant (index `tenant_email`).
    var email: String
    var status: CustomerStatus
    var metadata: [String: String]
    /// The login (auth service user) this customer belongs to, when it signed up itself.
    var userID: String?
    var testClock: String?
    var createdAt: Date
    var updatedAt: Date
    var deletedAt: Date?
    var version: Int

    /// The API representation (schemas/openapi.yaml `Customer`).
    var resource: Customer {
        Customer(
            id: id, name: name, email: email, status: status, metadata: metadata, testClock: testClock, createdAt: createdAt,
            updatedAt: updatedAt, deletedAt: deletedAt)
    }
}

/// What erasure leaves in place of personal data.
enum Anonymised {
    static let name = "Deleted customer"
    /// Unique per customer (the tenant's email index stays satisfied) and undeliverable (`.invalid`, RFC 2606).
    static func email(_ id: String) -> String { "deleted+\(id)@erased.invalid" }
}
