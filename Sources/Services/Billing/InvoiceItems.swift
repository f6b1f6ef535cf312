import BillingDomain
import Contracts
import Foundation
import MessageBus
import Mongo
import ServiceKit
import WorkerRuntime

// One-off charges (DESIGN §13): invoice items pending until the customer's next invoice, and
// manual invoices made of them, drafted then finalised.

extension BillingCollections {
    public static let invoiceItems = "invoice_items"
}

/// An invoice item (schemas/collections/invoice_items.json); `invoiceID` is nil while it is pending.
struct InvoiceItemDocument: Codable, Sendable {
    var id: String
    var tenantID: String
    var customerID: String
    @Nullable var subscriptionID: String?
    @Nullable var invoiceID: String?
    var description: String
    var quantity: Int
    var unitAmount: Decimal
    var currency: Currency
    var metadata: [String: String]
    var createdAt: Date
    var updatedAt: Date
    var version: Int

    func line(at time: Date) throws(BillingRuleError) -> InvoiceLine {
        try InvoiceLine(
            description: description, period: BillingPeriod(start: createdAt, end: max(createdAt, time)), quantity: quantity,
            unitAmount: Money(unitAmount, currency))
    }

    var resource: InvoiceItem {
        let unit = Money(unitAmount, currency)
        return InvoiceItem(
            id: id, customerID: customerID, subscriptionID: subscriptionID, invoice: invoiceID, description: description,
            quantity: quantity, unitAmount: unit, amount: (unit * Decimal(quantity)).rounded(), metadata: metadata,
            createdAt: createdAt)
    }
}

extension BillingEngine {
    /// The customer's pending items in `currency`: those of `subscription` and those of none (a
    /// subscription's cycle invoice), or those of none only (a manual invoice).
    func pendingItems(_ txn: MongoTransaction, tenant: String, customer: String, currency: Currency, subscription: String?)
        throws -> [InvoiceItemDocument]
    {
        let owners: [BSONValue] = [.null] + (subscription.map { [.string($0)] } ?? [])
        return try txn.collection(BillingCollections.invoiceItems, as: InvoiceItemDocument.self).find([
            "tenant_id": .string(tenant), "customer_id": .string(customer), "currency": .string(currency.code),
            "invoice_id": .null, "subscription_id": ["$in": .array(owners)],
        ]).sorted { $0.id < $1.id }
    }

    /// Marks `items` as invoiced on `invoice`, each only if still pending (a concurrent invoice that
    /// took one first makes this transaction rerun).
    func claim(_ txn: MongoTransaction, _ items: [InvoiceItemDocument], for invoice: String, at time: Date) throws {
        let collection = txn.collection(BillingCollections.invoiceItems, as: InvoiceItemDocument.self)
        for item in items {
            try Versioned.update(
                collection, ["_id": .string(item.id), "invoice_id": .null], version: item.version,
                set: ["invoice_id": .string(invoice)], at: time)
        }
    }
}

enum InvoiceItems {
    static let staff: Set<Principal.Role> = [.admin, .service, .system]

    static func register(_ registry: inout HandlerRegistry, _ engine: BillingEngine) {
        registry.write(Commands.InvoiceItemCreate.self) { context, payload in try create(context, engine, payload.body) }
        registry.write(Commands.InvoiceItemDelete.self) { context, payload in
            let access = Access(context.envelope.principal)
            try access.require(staff, to: "delete invoice items")
            let id = try ResourceID.path(payload.path.id, prefix: "ii", what: "invoice item")
            let items = context.transaction.collection(BillingCollections.invoiceItems, as: InvoiceItemDocument.self)
            guard let filter = access.scope(["_id": .string(id)]), let item = try items.findOne(filter) else {
                throw Problem.notFound("invoice item")
            }
            guard item.invoiceID == nil else {
                throw BillingEngine.conflict("invoice_item_invoiced", "the item is on invoice \(item.invoiceID ?? ""): void or credit that instead")
            }
            _ = try items.deleteOne(filter)
            return Answer(item.resource)
        }
        registry.read(Commands.InvoiceItemList.self) { envelope, context, payload in
            let access = Access(envelope.principal)
            let page = PageRequest(payload.query.page)
            var filter = BSONDocument()
            if let customer = payload.query.filters.customerID?.value { filter["customer_id"] = .string(customer) }
            if let pending = payload.query.filters.pending {
                filter["invoice_id"] = pending ? .null : ["$ne": .null]
            }
            guard let scoped = access.scope(filter) else { return Answer(.empty) }
            let found = try await page.find(
                context.database.collection(BillingCollections.invoiceItems, as: InvoiceItemDocument.self), scoped)
            return Answer(page.page(found) { $0.resource })
        }
        registry.write(Commands.InvoiceCreate.self) { context, payload in try draftInvoice(context, engine, payload.body) }
        registry.write(Commands.InvoiceFinalize.self) { context, payload in
            let access = Access(context.envelope.principal)
            try access.require(staff, to: "finalise invoices")
            var invoice = try InvoiceService.load(context, payload.path)
            guard invoice.status == .draft else {
                throw BillingEngine.conflict("invoice_not_draft", "the invoice is \(invoice.status.rawValue): only a draft is finalised")
            }
            let now = try InvoiceService.now(invoice, context)
            try engine.finalize(context, &invoice, at: now)
            try engine.save(context.transaction, &invoice, at: now)
            return Answer(invoice.resource)
        }
    }

    static func create(_ context: CommandContext, _ engine: BillingEngine, _ draft: InvoiceItemDraft) throws -> Answer<InvoiceItem> {
        let access = Access(context.envelope.principal)
        try access.require(staff, to: "create invoice items")
        let txn = context.transaction
        let currency = draft.currency.currency
        let customerID = draft.customerID.value
        guard let customer = try engine.customer(txn, tenant: access.tenant, id: customerID) else {
            throw Problem.notFound("customer \(customerID)")
        }
        let unit: Money
        do { unit = try Money(parsing: draft.unitAmount.text, currency, allowNegative: true) } catch {
            throw Problem.invalid("unit_amount", "unit_amount \(error)")
        }
        if let subscriptionID = draft.subscriptionID?.value {
            guard let subscription = try engine.subscription(txn, tenant: access.tenant, id: subscriptionID),
                subscription.customerID == customer.id
            else { throw Problem.invalid("subscription_id", "the customer has no subscription \(subscriptionID)") }
            guard subscription.currencyValue == currency else {
                throw Problem.invalid("currency", "the subscription is billed in \(subscription.currency.code)")
            }
        }
        let now = try engine.now(for: customer, txn, default: context.now)
        let item = InvoiceItemDocument(
            id: ResourceID.make("ii", at: now), tenantID: access.tenant, customerID: customer.id,
            subscriptionID: draft.subscriptionID?.value, invoiceID: nil, description: draft.description.value,
            quantity: draft.quantity?.value ?? 1, unitAmount: unit.amount, currency: currency,
            metadata: draft.metadata?.values ?? [:], createdAt: now, updatedAt: now, version: 1)
        try txn.collection(BillingCollections.invoiceItems, as: InvoiceItemDocument.self).insertOne(item)
        return Answer(status: 201, item.resource)
    }

    /// `POST /v1/invoices`: a draft of the customer's pending items in a currency (those tied to no
    /// subscription), with its own terms and tax rates.
    static func draftInvoice(_ context: CommandContext, _ engine: BillingEngine, _ request: InvoiceDraftRequest) throws
        -> Answer<Invoice>
    {
        let access = Access(context.envelope.principal)
        try access.require(staff, to: "create invoices")
        let txn = context.transaction
        let customerID = request.customerID.value
        guard let customer = try engine.customer(txn, tenant: access.tenant, id: customerID) else {
            throw Problem.notFound("customer \(customerID)")
        }
        let currency = request.currency.currency
        let terms = try BillingEngine.terms(request.collectionMethod, request.daysUntilDue?.value, current: (nil, nil))
        let rates = try engine.taxRates(
            txn, ids: request.defaultTaxRates?.values.map(\.value) ?? [], tenant: access.tenant, field: "default_tax_rates")
        let now = try engine.now(for: customer, txn, default: context.now)
        let items = try engine.pendingItems(txn, tenant: access.tenant, customer: customer.id, currency: currency, subscription: nil)
        guard !items.isEmpty else {
            throw Problem.invalid("customer_id", "the customer has no pending invoice items in \(currency.code) to invoice")
        }
        let invoice = try engine.draft(
            customer: customer, subscription: nil, lines: try items.map { try $0.line(at: now) }, currency: currency,
            reason: "manual", rates: rates, discount: nil, terms: (terms.0 ?? .chargeAutomatically, terms.1),
            paymentMethod: nil, at: now)
        try engine.claim(txn, items, for: invoice.id, at: now)
        try engine.insert(txn, invoice)
        context.emit(.invoiceCreated, payload: BillingEngine.eventPayload(invoice))
        return Answer(status: 201, invoice.resource)
    }
}
