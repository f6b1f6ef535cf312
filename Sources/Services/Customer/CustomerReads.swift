import Contracts
import Foundation
import MessageBus
import Mongo
import Redis
import ServiceKit
import WorkerRuntime

extension CustomerHandlers {
    func get(_ envelope: Envelope, _ context: ReadContext, _ payload: Commands.CustomerGet.Payload) async throws
        -> Answer<Customer>
    {
        let id = try ResourceID.path(payload.path.id, prefix: CustomerService.idPrefix, what: "customer")
        return try await read(id, Access(envelope.principal), context)
    }

    /// `GET /v1/customers/me`: the customer of a customer principal.
    func me(_ envelope: Envelope, _ context: ReadContext, _ payload: Commands.CustomerMe.Payload) async throws
        -> Answer<Customer>
    {
        guard envelope.principal.role == .customer, let id = envelope.principal.customerID else {
            throw Problem.notFound("customer")
        }
        return try await read(id, Access(envelope.principal), context)
    }

    /// One customer, from the cache when it holds it. The scope check comes first, so a cached
    /// customer is never shown to a principal that may not see it.
    private func read(_ id: String, _ access: Access, _ context: ReadContext) async throws -> Answer<Customer> {
        let filter = try access.customer(id)
        if let cache, let cached = await cache.get(context.redis, tenant: access.tenant, id: id) {
            return .encoded(cached)
        }
        let customers = context.database.collection(CustomerService.collection, as: CustomerDocument.self)
        guard let customer = try await customers.findOne(filter) else { throw Problem.notFound("customer") }
        let answer = Answer(customer.resource)
        guard let cache else { return answer }
        // Encoded once: the cache's copy is the answer.
        let json = try answer.result().body
        await cache.fill(context.redis, tenant: access.tenant, id: id, version: customer.version, value: json)
        return .encoded(json)
    }

    /// Newest first; filters `email` (exact) and `status`. A customer principal lists only itself.
    func list(_ envelope: Envelope, _ context: ReadContext, _ payload: Commands.CustomerList.Payload) async throws
        -> Answer<Page<Customer>>
    {
        let page = PageRequest(payload.query.page)
        let filters = payload.query.filters
        var filter = BSONDocument()
        if let email = filters.email { filter["email"] = .string(email.value) }
        if let status = filters.status { filter["status"] = .string(status.rawValue) }
        guard let scoped = Access(envelope.principal).scope(filter, customerField: "_id") else {
            return Answer(.empty)
        }
        let customers = context.database.collection(CustomerService.collection, as: CustomerDocument.self)
        let found = try await page.find(customers, scoped)
        return Answer(page.page(found) { $0.resource })
    }

    /// Everything held about the customer, as one JSON document (GDPR art. 15 and 20): the
    /// customer with its internal fields, and its subscriptions, invoices and payment methods.
    func export(_ envelope: Envelope, _ context: ReadContext, _ payload: Commands.CustomerExport.Payload) async throws
        -> Answer<Contracts.CustomerExport>
    {
        let id = try ResourceID.path(payload.path.id, prefix: CustomerService.idPrefix, what: "customer")
        let access = Access(envelope.principal)
        let filter = try access.customer(id)
        let now = context.now
        let query = payload.query
        let limit = query.limit?.value ?? 100
        let sections = [
            ("subscriptions", query.subscriptionsAfter?.value), ("invoices", query.invoicesAfter?.value),
            ("payment_methods", query.paymentMethodsAfter?.value),
        ]
        let found = try await context.database.withConnection { connection -> [String: [BSONDocument]]? in
            guard let customer = try connection.collection(CustomerService.collection, as: BSONDocument.self).findOne(filter)
            else { return nil }
            var parts: [String: [BSONDocument]] = ["customer": [customer]]
            for (name, after) in sections {
                var related: BSONDocument = ["tenant_id": .string(access.tenant), "customer_id": .string(id)]
                if let after { related["_id"] = ["$gt": .string(after)] }
                // One more than the page: whether there is more.
                parts[name] = try connection.collection(name, as: BSONDocument.self).find(
                    related, options: FindOptions(sort: ["_id": 1], limit: limit + 1))
            }
            return parts
        }
        guard let found, let customer = found["customer"]?.first else { throw Problem.notFound("customer") }
        func section(_ name: String) -> Contracts.CustomerExport.ExportSection {
            let documents = found[name] ?? []
            return .init(data: documents.prefix(limit).map(Self.exported), hasMore: documents.count > limit)
        }
        return Answer(
            Contracts.CustomerExport(
                exportedAt: now, customer: Self.exported(customer), subscriptions: section("subscriptions"),
                invoices: section("invoices"), paymentMethods: section("payment_methods")))
    }

    /// A stored document as export JSON: `_id` shown as `id`.
    static func exported(_ document: BSONDocument) -> JSONValue {
        guard case .object(var fields) = DocumentJSON.json(document) else { return .null }
        if let id = fields.removeValue(forKey: "_id") { fields["id"] = id }
        return .object(fields)
    }
}
