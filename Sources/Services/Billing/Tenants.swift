import BillingDomain
import Contracts
import Foundation
import MessageBus
import Mongo
import ServiceKit
import WorkerRuntime

// Tenants (DESIGN §13): created by the platform operator, each with the settings its invoices show.
// The invoice worker owns them: the settings are the seller's side of every invoice.

extension BillingCollections {
    public static let tenants = "tenants"
}

/// A tenant (schemas/collections/tenants.json). The `default` tenant exists without a document
/// until its settings are first changed.
public struct TenantDocument: Codable, Sendable {
    public var id: String
    var name: String
    var address: PostalAddress?
    var taxID: String?
    var defaultCurrency: String?
    var invoicePrefix: String?
    var createdAt: Date
    var updatedAt: Date
    var version: Int

    /// The tenant every deployment has, and the operator's (its admins create the others).
    public static let defaultID = "default"

    static func implicitDefault(at time: Date) -> TenantDocument {
        TenantDocument(
            id: defaultID, name: defaultID, address: nil, taxID: nil, defaultCurrency: nil, invoicePrefix: nil, createdAt: time,
            updatedAt: time, version: 0)
    }

    var resource: Tenant {
        Tenant(
            id: id, name: name, address: address, taxID: taxID, defaultCurrency: defaultCurrency,
            invoicePrefix: invoicePrefix ?? InvoiceNumber.defaultPrefix, createdAt: createdAt, updatedAt: updatedAt)
    }

    /// Creates a tenant unless one has the id; true when it was created (`billing admin tenant create`).
    public static func create(id: String, name: String, in database: MongoDatabase, at time: Date) async throws -> Bool {
        let tenants = database.collection(BillingCollections.tenants, as: TenantDocument.self)
        if try await tenants.findOne(["_id": .string(id)]) != nil { return false }
        try await tenants.insertOne(
            TenantDocument(
                id: id, name: name, address: nil, taxID: nil, defaultCurrency: nil, invoicePrefix: nil, createdAt: time,
                updatedAt: time, version: 1))
        return true
    }

    /// Whether a tenant exists (`default` always does).
    public static func exists(_ id: String, in database: MongoDatabase) async throws -> Bool {
        guard id != defaultID else { return true }
        return try await database.collection(BillingCollections.tenants, as: TenantDocument.self).findOne(["_id": .string(id)]) != nil
    }
}

extension BillingEngine {
    /// The tenant's invoice-number prefix (`INV` unless its settings say otherwise).
    func invoicePrefix(_ txn: MongoTransaction, tenant: String) throws -> String {
        try txn.collection(BillingCollections.tenants, as: TenantDocument.self).findOne(["_id": .string(tenant)])?.invoicePrefix
            ?? InvoiceNumber.defaultPrefix
    }
}

enum Tenants {
    static func register(_ registry: inout HandlerRegistry) {
        registry.write(Commands.TenantCreate.self) { context, payload in
            let principal = context.envelope.principal
            guard principal.role == .admin, principal.tenant == TenantDocument.defaultID else {
                throw Problem.forbidden("tenants are created by the platform operator (an admin of the default tenant)")
            }
            let draft = payload.body
            let tenants = context.transaction.collection(BillingCollections.tenants, as: TenantDocument.self)
            guard draft.id.value != TenantDocument.defaultID, try tenants.findOne(["_id": .string(draft.id.value)]) == nil else {
                throw BillingEngine.conflict("tenant_exists", "a tenant '\(draft.id.value)' exists", param: "id")
            }
            var tenant = TenantDocument(
                id: draft.id.value, name: draft.name.value, address: draft.address?.address, taxID: draft.taxID?.value,
                defaultCurrency: draft.defaultCurrency?.currency.code, invoicePrefix: draft.invoicePrefix?.value,
                createdAt: context.now, updatedAt: context.now, version: 1)
            tenant.version = 1
            try tenants.insertOne(tenant)
            return Answer(status: 201, tenant.resource)
        }
        registry.read(Commands.TenantGet.self) { envelope, context, _ in
            let id = envelope.principal.tenant
            let stored = try await context.database.collection(BillingCollections.tenants, as: TenantDocument.self)
                .findOne(["_id": .string(id)])
            guard let tenant = stored ?? (id == TenantDocument.defaultID ? .implicitDefault(at: context.now) : nil) else {
                throw Problem.notFound("tenant")
            }
            return Answer(tenant.resource)
        }
        registry.write(Commands.TenantUpdate.self) { context, payload in
            let access = Access(context.envelope.principal)
            try access.require([.admin], to: "change the tenant's settings")
            let tenants = context.transaction.collection(BillingCollections.tenants, as: TenantDocument.self)
            let id = access.tenant
            guard var tenant = try tenants.findOne(["_id": .string(id)])
                ?? (id == TenantDocument.defaultID ? .implicitDefault(at: context.now) : nil)
            else { throw Problem.notFound("tenant") }
            let changes = payload.body
            if let name = changes.name?.value { tenant.name = name }
            if let address = changes.address { tenant.address = address.address }
            if let taxID = changes.taxID?.value { tenant.taxID = taxID.isEmpty ? nil : taxID }
            if let currency = changes.defaultCurrency { tenant.defaultCurrency = currency.currency.code }
            if let prefix = changes.invoicePrefix?.value { tenant.invoicePrefix = prefix }
            let previous = tenant.version
            tenant.version += 1
            tenant.updatedAt = context.now
            if previous == 0 {
                try tenants.insertOne(tenant)
            } else {
                let result = try tenants.replaceOne(["_id": .string(id), "version": .int(previous)], replacement: tenant)
                guard result.matchedCount == 1 else { throw Versioned.conflict(BillingCollections.tenants) }
            }
            return Answer(tenant.resource)
        }
    }
}
