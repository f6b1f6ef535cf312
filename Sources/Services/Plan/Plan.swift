import BillingDomain
import Contracts
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
    var resource: Plan {
        Plan(
            id: id, name: name, description: description, price: DecimalText(priceText), currency: currency,
            interval: interval, intervalCount: intervalCount, trialDays: trialDays, features: features, metadata: metadata,
            active: active, archivedAt: archivedAt, createdAt: createdAt, updatedAt: updatedAt)
    }
}
