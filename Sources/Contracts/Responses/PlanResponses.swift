import BillingDomain
import Foundation
import MessageBus

// The plan worker's answers (schemas/openapi.yaml `Plan`).

/// A plan as the API shows it: the price as a decimal string with the currency's minor-unit digits.
public struct Plan: Codable, Sendable {
    public var id: String
    public var object = "plan"
    public var name: String
    public var description: String?
    public var price: DecimalText
    public var currency: String
    public var interval: BillingInterval
    public var intervalCount, trialDays: Int
    public var features: [String]
    public var metadata: [String: String]
    public var active: Bool
    public var archivedAt: Date?
    public var createdAt, updatedAt: Date

    public init(
        id: String, name: String, description: String?, price: DecimalText, currency: String, interval: BillingInterval, intervalCount: Int,
        trialDays: Int, features: [String], metadata: [String: String], active: Bool, archivedAt: Date?, createdAt: Date,
        updatedAt: Date
    ) {
        (self.id, self.name, self.description, self.interval, self.intervalCount) = (id, name, description, interval, intervalCount)
        (self.price, self.currency) = (price, currency)
        (self.trialDays, self.features, self.metadata, self.active) = (trialDays, features, metadata, active)
        (self.archivedAt, self.createdAt, self.updatedAt) = (archivedAt, createdAt, updatedAt)
    }
}
