import BillingDomain
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
    var json: JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(id), "object": .string("customer"), "name": .string(name), "email": .string(email),
            "status": .string(status.rawValue), "metadata": DocumentJSON.strings(metadata),
            "created_at": DocumentJSON.timestamp(createdAt), "updated_at": DocumentJSON.timestamp(updatedAt),
        ]
        if let testClock { object["test_clock"] = .string(testClock) }
        if let deletedAt { object["deleted_at"] = DocumentJSON.timestamp(deletedAt) }
        return .object(object)
    }
}

/// What erasure leaves in place of personal data.
enum Anonymised {
    static let name = "Deleted customer"
    /// Unique per customer (the tenant's email index stays satisfied) and undeliverable (`.invalid`, RFC 2606).
    static func email(_ id: String) -> String { "deleted+\(id)@erased.invalid" }
}
