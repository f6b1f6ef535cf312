import BillingDomain
import Foundation
import MessageBus
import ServiceKit

/// One document of the `plans` collection (schemas/collections/plans.json). `price` is Decimal128.
struct PlanDocument: Codable, Sendable {
    var id: String
    var tenantID: String
    var name: String
    var description: String?
    var price: Decimal
    var currency: String
    var interval: BillingInterval
    var intervalCount: Int
    var trialDays: Int
    var features: [String]
    var metadata: [String: String]
    /// False once archived: no new subscriptions; existing ones continue.
    var active: Bool
    var archivedAt: Date?
    var createdAt: Date
    var updatedAt: Date
    var version: Int


    /// The price with exactly the currency's minor-unit digits (`"19.90"`, `"100"` for JPY).
    var priceText: String {
        guard let currency = Currency(code: currency) else { return DocumentJSON.decimal(price) }
        return Money(price, currency).formatted
    }

    /// The API representation (schemas/openapi.yaml `Plan`).
    var json: JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(id), "object": .string("plan"), "name": .string(name), "price": .string(priceText),
            "currency": .string(currency), "interval": .string(interval.rawValue),
            "interval_count": .number(String(intervalCount)), "trial_days": .number(String(trialDays)),
            "features": .array(features.map(JSONValue.string)), "metadata": DocumentJSON.strings(metadata),
            "active": .bool(active), "created_at": DocumentJSON.timestamp(createdAt),
            "updated_at": DocumentJSON.timestamp(updatedAt),
        ]
        if let description { object["description"] = .string(description) }
        if let archivedAt { object["archived_at"] = DocumentJSON.timestamp(archivedAt) }
        return .object(object)
    }
}
