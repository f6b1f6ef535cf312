import BillingDomain
import Contracts
import Foundation
import MessageBus
import Mongo
import ServiceKit
import WorkerRuntime

/// The `invoice` worker: invoices (read, pay, void, mark uncollectible, dunning retries) and
/// payment methods.
public enum InvoiceService {
    public static let name = "invoice"

    public static func registry(_ engine: BillingEngine) -> HandlerRegistry {
        var registry = HandlerRegistry()
        registry.read(Commands.InvoiceGet.self) { envelope, context, payload in
            let access = Access(envelope.principal)
            let id = try ResourceID.path(payload.path.id, prefix: "in", what: "invoice")
            guard
                let invoice = try await context.database.collection(BillingCollections.invoices, as: InvoiceDocument.self)
                    .findOne(try access.one(id, what: "invoice"))
            else { throw Problem.notFound("invoice") }
            return Answer(invoice.resource)
        }
        registry.read(Commands.InvoiceList.self) { envelope, context, payload in
            let access = Access(envelope.principal)
            let page = PageRequest(payload.query.page)
            let filters = payload.query.filters
            var filter = BSONDocument()
            if let customer = filters.customerID?.value { filter["customer_id"] = .string(customer) }
            if let subscription = filters.subscriptionID?.value { filter["subscription_id"] = .string(subscription) }
            if let status = filters.status { filter["status"] = .string(status.rawValue) }
            guard let scoped = access.scope(filter) else { return Answer(.empty) }
            let found = try await page.find(
                context.database.collection(BillingCollections.invoices, as: InvoiceDocument.self), scoped)
            return Answer(page.page(found) { $0.resource })
        }
        registry.write(Commands.InvoicePay.self) { context, payload in
            try pay(context, engine, payload.path, method: payload.body.paymentMethod?.value)
        }
        registry.write(Commands.InvoiceVoid.self) { context, payload in
            try change(context, engine, payload.path, event: .void) { invoice, now in
                invoice.voidedAt = now
                invoice.nextPaymentAttempt = nil
                context.emit(.invoiceVoided, payload: BillingEngine.eventPayload(invoice))
            }
        }
        registry.write(Commands.InvoiceMarkUncollectible.self) { context, payload in
            try change(context, engine, payload.path, event: .markUncollectible) { invoice, _ in
                invoice.nextPaymentAttempt = nil
                context.emit(.invoiceMarkedUncollectible, payload: BillingEngine.eventPayload(invoice))
            }
        }
        registry.write(Commands.InvoiceRetryPayment.self) { context in
            try SubscriptionService.scheduled(context, engine, .retryPayment)
        }
        PaymentMethods.register(&registry, engine)
        Adjustments.register(&registry)
        CreditNotes.register(&registry, engine)
        Upcoming.register(&registry, engine)
        InvoiceItems.register(&registry, engine)
        Tenants.register(&registry)
        return registry
    }

    static func load(_ context: CommandContext, _ path: IDPath) throws -> InvoiceDocument {
        let access = Access(context.envelope.principal)
        let id = try ResourceID.path(path.id, prefix: "in", what: "invoice")
        guard
            let invoice = try context.transaction.collection(BillingCollections.invoices, as: InvoiceDocument.self)
                .findOne(try access.one(id, what: "invoice"))
        else { throw Problem.notFound("invoice") }
        return invoice
    }

    /// The invoice's time: its test clock's, or the billing clock.
    static func now(_ invoice: InvoiceDocument, _ context: CommandContext) throws -> Date {
        guard let clock = invoice.testClock,
            let frozen = try context.transaction.collection(BillingCollections.testClocks, as: TestClockDocument.self)
                .findOne(["_id": .string(clock)])
        else { return context.now }
        return frozen.frozenTime
    }

    /// `POST /v1/invoices/{id}/pay`: one charge now (the given method or the default); a decline is
    /// recorded and answered 402 with the provider's failure code.
    static func pay(_ context: CommandContext, _ engine: BillingEngine, _ path: IDPath, method: String?) throws
        -> Answer<Invoice>
    {
        var invoice = try load(context, path)
        guard invoice.status == .open || invoice.status == .uncollectible else {
            throw BillingEngine.conflict("invoice_not_payable", "the invoice is \(invoice.status.rawValue); only open or uncollectible invoices can be paid")
        }
        if let method,
            try engine.paymentMethod(context.transaction, tenant: invoice.tenantID, customer: invoice.customerID, id: method) == nil
        {
            throw Problem.invalid("payment_method", "no such payment method for this customer")
        }
        let now = try now(invoice, context)
        let paid = try engine.charge(context, &invoice, paymentMethod: method, at: now)
        if let subscriptionID = invoice.subscriptionID,
            var subscription = try engine.subscription(context.transaction, tenant: invoice.tenantID, id: subscriptionID)
        {
            if paid {
                try engine.follow(context, &subscription, &invoice, paid: true, at: now)
                try engine.save(context.transaction, &subscription, at: now)
            }
        }
        try engine.save(context.transaction, &invoice, at: now)
        if !paid {
            let payment = try context.transaction.collection(BillingCollections.payments, as: PaymentDocument.self)
                .findOne(["invoice_id": .string(invoice.id), "attempt": .int(invoice.attemptCount)])
            context.fail(
                with: Problem(
                    status: 402, code: payment?.failureCode ?? "payment_failed", title: "Payment failed",
                    detail: payment?.failureMessage ?? "the charge failed", param: method == nil ? nil : "payment_method"))
        }
        return Answer(invoice.resource)
    }

    static func change(
        _ context: CommandContext, _ engine: BillingEngine, _ path: IDPath, event: InvoiceEvent,
        _ apply: (inout InvoiceDocument, Date) throws -> Void
    ) throws -> Answer<Invoice> {
        var invoice = try load(context, path)
        let now = try now(invoice, context)
        invoice.status = try invoice.status.applying(event)
        try apply(&invoice, now)
        try engine.save(context.transaction, &invoice, at: now)
        return Answer(invoice.resource)
    }
}
