import BillingDomain
import Contracts
import Foundation
import MessageBus
import Mongo
import ServiceKit
import WorkerRuntime

// Credit notes and refunds (DESIGN §13): the invoice worker lowers what an unpaid invoice owes,
// refunds a paid one through the payment provider, or credits the customer's balance, in the
// transaction that numbers the note.

extension BillingCollections {
    public static let creditNotes = "credit_notes"
    public static let refunds = "refunds"
}

/// A credit note (schemas/collections/credit_notes.json).
struct CreditNoteDocument: Codable, Sendable {
    struct Line: Codable, Sendable, Hashable {
        var line: Int
        var amount: Decimal
    }

    var id: String
    var tenantID: String
    var customerID: String
    var invoiceID: String
    var number: String
    var currency: Currency
    var amount: Decimal
    var lines: [Line]
    var reason: CreditNoteReason?
    var memo: String?
    var effect: CreditNoteEffect
    var refundID: String?
    /// `issued` or `void`.
    var status: String
    var voidedAt: Date?
    var metadata: [String: String]
    var createdAt: Date
    var updatedAt: Date
    var version: Int

    var resource: CreditNote {
        CreditNote(
            id: id, number: number, invoice: invoiceID, customerID: customerID, amount: Money(amount, currency),
            lines: lines.map { CreditNote.Line(line: $0.line, amount: Money($0.amount, currency)) }, reason: reason, memo: memo,
            effect: effect, refund: refundID, status: status, voidedAt: voidedAt, metadata: metadata, createdAt: createdAt)
    }

    var eventPayload: JSONValue {
        get throws {
            .object([
                "id": .string(id), "tenant_id": .string(tenantID), "customer_id": .string(customerID),
                "credit_note": try ValueEncoder.encode(resource),
            ])
        }
    }
}

/// A refund through the payment provider (schemas/collections/refunds.json).
struct RefundDocument: Codable, Sendable {
    var id: String
    var tenantID: String
    var customerID: String
    var invoiceID: String
    var paymentID: String
    var creditNoteID: String
    var amount: Decimal
    var currency: String
    var status: String
    var providerReference: String
    var createdAt: Date
}

enum CreditNotes {
    static let staff: Set<Principal.Role> = [.admin, .service, .system]

    static func register(_ registry: inout HandlerRegistry, _ engine: BillingEngine) {
        registry.write(Commands.CreditNoteCreate.self) { context, payload in try create(context, engine, payload.body) }
        registry.write(Commands.CreditNoteVoid.self) { context, payload in try void(context, engine, payload.path) }
        registry.read(Commands.CreditNoteGet.self) { envelope, context, payload in
            let access = Access(envelope.principal)
            let id = try ResourceID.path(payload.path.id, prefix: "cn", what: "credit note")
            guard
                let note = try await context.database.collection(BillingCollections.creditNotes, as: CreditNoteDocument.self)
                    .findOne(try access.one(id, what: "credit note"))
            else { throw Problem.notFound("credit note") }
            return Answer(note.resource)
        }
        registry.read(Commands.CreditNoteList.self) { envelope, context, payload in
            let access = Access(envelope.principal)
            let page = PageRequest(payload.query.page)
            var filter = BSONDocument()
            if let invoice = payload.query.filters.invoice?.value { filter["invoice_id"] = .string(invoice) }
            if let customer = payload.query.filters.customerID?.value { filter["customer_id"] = .string(customer) }
            guard let scoped = access.scope(filter) else { return Answer(.empty) }
            let found = try await page.find(
                context.database.collection(BillingCollections.creditNotes, as: CreditNoteDocument.self), scoped)
            return Answer(page.page(found) { $0.resource })
        }
    }

    static func create(_ context: CommandContext, _ engine: BillingEngine, _ draft: CreditNoteDraft) throws -> Answer<CreditNote> {
        let access = Access(context.envelope.principal)
        try access.require(staff, to: "issue credit notes")
        let txn = context.transaction
        let invoiceID = draft.invoice.value
        guard ResourceID.isWellFormed(invoiceID, prefix: "in"),
            var invoice = try engine.invoice(txn, tenant: access.tenant, id: invoiceID)
        else { throw Problem.notFound("invoice \(invoiceID)") }
        guard [.open, .paid, .uncollectible].contains(invoice.status) else {
            throw BillingEngine.conflict(
                "invoice_not_creditable", "the invoice is \(invoice.status.rawValue): only open, paid or uncollectible invoices take credit notes",
                param: "invoice")
        }
        let currency = invoice.currencyValue
        func parse(_ text: DecimalText, _ field: String) throws -> Money {
            do { return try Money(parsing: text.text, currency) } catch { throw Problem.invalid(field, "\(field) \(error)") }
        }
        var lines: [CreditNoteDocument.Line] = []
        let amount: Money
        switch (draft.amount, draft.lines?.values) {
        case (let text?, nil):
            amount = try parse(text, "amount")
        case (nil, let requested?):
            var sum = Money(0, currency)
            for (index, item) in requested.enumerated() {
                let field = "lines[\(index)]"
                guard item.line.value < invoice.lines.count else {
                    throw Problem.invalid("\(field).line", "the invoice has \(invoice.lines.count) lines, numbered from 0")
                }
                let lineAmount = try parse(item.amount, "\(field).amount")
                let net = Money(invoice.lines[item.line.value].net, currency)
                guard lineAmount.amount > 0, lineAmount.amount <= net.amount else {
                    throw Problem.invalid("\(field).amount", "a line's credit is above zero and at most what the line cost (\(net))")
                }
                lines.append(.init(line: item.line.value, amount: lineAmount.amount))
                sum = sum + lineAmount
            }
            amount = sum
        case (_?, _?):
            throw Problem.invalid("lines", "give amount or lines, not both")
        case (nil, nil):
            throw Problem.invalid("amount", "a credit note needs an amount or lines")
        }
        let now = try InvoiceService.now(invoice, context)
        let effect = try CreditNoteRules.effect(
            of: amount, refund: draft.refund ?? false,
            on: CreditableInvoice(
                paid: invoice.status == .paid, total: invoice.money(invoice.total), amountDue: invoice.money(invoice.amountDue),
                amountPaid: invoice.money(invoice.amountPaid), credited: invoice.money(invoice.amountCredited ?? 0),
                refunded: invoice.money(invoice.amountRefunded ?? 0)))
        let id = ResourceID.make("cn", at: now)
        var note = CreditNoteDocument(
            id: id, tenantID: invoice.tenantID, customerID: invoice.customerID, invoiceID: invoice.id,
            number: try CreditNoteNumber(sequence: engine.nextSequence(txn, "credit_note_number:\(invoice.tenantID)")).description, currency: currency, amount: amount.amount,
            lines: lines, reason: draft.reason, memo: draft.memo?.value, effect: effect, refundID: nil, status: "issued",
            voidedAt: nil, metadata: draft.metadata?.values ?? [:], createdAt: now, updatedAt: now, version: 1)
        invoice.amountCredited = (invoice.amountCredited ?? 0) + amount.amount
        switch effect {
        case .lowersAmountDue:
            invoice.amountDue -= amount.amount
            if invoice.amountDue <= invoice.amountPaid {
                // Nothing left to pay: settled by the note, and dunning stops.
                invoice.status = try invoice.status.applying(.paymentSucceeded)
                invoice.paidAt = now
                invoice.nextPaymentAttempt = nil
                context.emit(.invoicePaid, payload: BillingEngine.eventPayload(invoice))
                if let subscriptionID = invoice.subscriptionID,
                    var subscription = try engine.subscription(txn, tenant: invoice.tenantID, id: subscriptionID)
                {
                    try engine.follow(context, &subscription, &invoice, paid: true, at: now)
                    try engine.save(txn, &subscription, at: now)
                }
            }
        case .refund:
            note.refundID = try refund(context, engine, &invoice, amount, creditNote: id, at: now)
        case .customerBalance:
            let previous = try engine.credit(txn, tenant: invoice.tenantID, customer: invoice.customerID, currency: currency)
            try engine.setCredit(
                context, tenant: invoice.tenantID, customer: invoice.customerID, to: previous + amount, from: previous,
                reason: "credit_note", reference: id)
        }
        try engine.save(txn, &invoice, at: now)
        try txn.collection(BillingCollections.creditNotes, as: CreditNoteDocument.self).insertOne(note)
        context.emit(.creditNoteCreated, payload: try note.eventPayload)
        return Answer(status: 201, note.resource)
    }

    /// Refunds `amount` of the invoice's successful charges, newest first, through the provider.
    static func refund(
        _ context: CommandContext, _ engine: BillingEngine, _ invoice: inout InvoiceDocument, _ amount: Money,
        creditNote: String, at now: Date
    ) throws -> String {
        let txn = context.transaction
        let payments = try txn.collection(BillingCollections.payments, as: PaymentDocument.self).find(
            ["tenant_id": .string(invoice.tenantID), "invoice_id": .string(invoice.id), "status": "succeeded"])
        guard let payment = payments.max(by: { $0.attempt < $1.attempt }) else {
            throw BillingEngine.conflict("no_charge_to_refund", "the invoice was settled without a charge: credit the customer's balance instead", param: "refund")
        }
        let id = ResourceID.make("re", at: now)
        let result = engine.provider.refund(
            RefundRequest(amount: amount, chargeReference: payment.providerReference, idempotencyKey: id))
        guard result.succeeded else {
            throw Problem(
                status: 402, code: result.failureCode ?? "refund_failed", title: "Refund failed",
                detail: result.failureMessage ?? "the payment provider refused the refund", param: "refund")
        }
        let refund = RefundDocument(
            id: id, tenantID: invoice.tenantID, customerID: invoice.customerID, invoiceID: invoice.id, paymentID: payment.id,
            creditNoteID: creditNote, amount: amount.amount, currency: amount.currency.code, status: "succeeded",
            providerReference: result.reference, createdAt: now)
        try txn.collection(BillingCollections.refunds, as: RefundDocument.self).insertOne(refund)
        invoice.amountRefunded = (invoice.amountRefunded ?? 0) + amount.amount
        context.emit(
            .chargeRefunded,
            payload: .object([
                "id": .string(id), "tenant_id": .string(invoice.tenantID), "customer_id": .string(invoice.customerID),
                "payment_id": .string(payment.id), "invoice_id": .string(invoice.id), "credit_note_id": .string(creditNote),
                "amount": .string(amount.formatted), "currency": .string(amount.currency.code),
                "provider_reference": .string(result.reference),
            ]))
        return id
    }

    /// Voids a note: what it lowered is due again (while the invoice is unpaid), or its credit
    /// leaves the customer's balance (while the balance still holds it); a refund stays refunded.
    static func void(_ context: CommandContext, _ engine: BillingEngine, _ path: IDPath) throws -> Answer<CreditNote> {
        let access = Access(context.envelope.principal)
        try access.require(staff, to: "void credit notes")
        let id = try ResourceID.path(path.id, prefix: "cn", what: "credit note")
        let txn = context.transaction
        let notes = txn.collection(BillingCollections.creditNotes, as: CreditNoteDocument.self)
        guard let filter = access.scope(["_id": .string(id)]), var note = try notes.findOne(filter) else {
            throw Problem.notFound("credit note")
        }
        guard note.status != "void" else { return Answer(note.resource) }
        guard var invoice = try engine.invoice(txn, tenant: note.tenantID, id: note.invoiceID) else {
            throw Problem.notFound("invoice \(note.invoiceID)")
        }
        let now = try InvoiceService.now(invoice, context)
        let amount = Money(note.amount, note.currency)
        switch note.effect {
        case .refund:
            throw BillingEngine.conflict("credit_note_refunded", "the note's amount was refunded: a refund cannot be voided")
        case .lowersAmountDue:
            guard invoice.status == .open || invoice.status == .uncollectible else {
                throw BillingEngine.conflict(
                    "invoice_not_open", "the invoice is \(invoice.status.rawValue): the amount the note lowered cannot be due again")
            }
            invoice.amountDue += amount.amount
        case .customerBalance:
            let balance = try engine.credit(txn, tenant: note.tenantID, customer: note.customerID, currency: amount.currency)
            guard balance.amount >= amount.amount else {
                throw BillingEngine.conflict(
                    "credit_used", "the customer's balance (\(balance)) no longer holds the note's \(amount): it was applied to invoices")
            }
            try engine.setCredit(
                context, tenant: note.tenantID, customer: note.customerID, to: balance - amount, from: balance,
                reason: "credit_note_voided", reference: note.id)
        }
        invoice.amountCredited = (invoice.amountCredited ?? 0) - amount.amount
        try engine.save(txn, &invoice, at: now)
        try Versioned.update(
            notes, filter, version: note.version, set: ["status": "void", "voided_at": .datetime(millisecondsOf: now)], at: now)
        note.status = "void"
        note.voidedAt = now
        note.version += 1
        context.emit(.creditNoteVoided, payload: try note.eventPayload)
        return Answer(note.resource)
    }

}
