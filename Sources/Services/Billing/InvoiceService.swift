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
        registry.read(Commands.InvoiceGet.self) { envelope, context in
            let access = Access(envelope.principal)
            let id = try CommandInput(envelope.payload).pathID(prefix: "in", what: "invoice")
            guard
                let invoice = try await context.database.collection(BillingCollections.invoices, as: InvoiceDocument.self)
                    .findOne(try access.one(id, what: "invoice"))
            else { throw Problem.notFound("invoice") }
            return HandlerResult(body: invoice.json)
        }
        registry.read(Commands.InvoiceList.self) { envelope, context in
            let access = Access(envelope.principal)
            let query = try CommandInput(envelope.payload).query(
                allowing: PageRequest.parameters.union(["customer_id", "subscription_id", "status"]))
            let page = try PageRequest(query)
            var filter = BSONDocument()
            if let customer = try query.string("customer_id", maxLength: 64) { filter["customer_id"] = .string(customer) }
            if let subscription = try query.string("subscription_id", maxLength: 64) {
                filter["subscription_id"] = .string(subscription)
            }
            if let status = try query.string("status", maxLength: 20) {
                guard InvoiceStatus(rawValue: status) != nil else { throw Problem.invalid("status", "unknown status '\(status)'") }
                filter["status"] = .string(status)
            }
            guard let scoped = access.scope(filter) else { return HandlerResult(body: PageRequest.list([], hasMore: false)) }
            let found = try await page.find(
                context.database.collection(BillingCollections.invoices, as: InvoiceDocument.self), scoped)
            return HandlerResult(body: page.page(found) { $0.json })
        }
        registry.write(Commands.InvoicePay.self) { context in try pay(context, engine) }
        registry.write(Commands.InvoiceVoid.self) { context in
            try change(context, engine, event: .void) { invoice, now in
                invoice.voidedAt = now
                invoice.nextPaymentAttempt = nil
                context.emit(.invoiceVoided, payload: BillingEngine.eventPayload(invoice))
            }
        }
        registry.write(Commands.InvoiceMarkUncollectible.self) { context in
            try change(context, engine, event: .markUncollectible) { invoice, _ in
                invoice.nextPaymentAttempt = nil
                context.emit(.invoiceMarkedUncollectible, payload: BillingEngine.eventPayload(invoice))
            }
        }
        registry.write(Commands.InvoiceRetryPayment.self) { context in
            try SubscriptionService.scheduled(context, engine, .retryPayment)
        }
        PaymentMethods.register(&registry, engine)
        return registry
    }

    static func load(_ context: CommandContext, allowing fields: Set<String>) throws -> (InvoiceDocument, FieldReader) {
        let access = Access(context.envelope.principal)
        let input = try CommandInput(context.envelope.payload)
        let id = try input.pathID(prefix: "in", what: "invoice")
        let body = try input.body(allowing: fields)
        guard
            let invoice = try context.transaction.collection(BillingCollections.invoices, as: InvoiceDocument.self)
                .findOne(try access.one(id, what: "invoice"))
        else { throw Problem.notFound("invoice") }
        return (invoice, body)
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
    static func pay(_ context: CommandContext, _ engine: BillingEngine) throws -> HandlerResult {
        var (invoice, body) = try load(context, allowing: ["payment_method"])
        let method = try body.string("payment_method", maxLength: 64)
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
        return HandlerResult(body: invoice.json)
    }

    static func change(
        _ context: CommandContext, _ engine: BillingEngine, event: InvoiceEvent,
        _ apply: (inout InvoiceDocument, Date) throws -> Void
    ) throws -> HandlerResult {
        var (invoice, _) = try load(context, allowing: [])
        let now = try now(invoice, context)
        invoice.status = try invoice.status.applying(event)
        try apply(&invoice, now)
        try engine.save(context.transaction, &invoice, at: now)
        return HandlerResult(body: invoice.json)
    }
}
