import Contracts
import Foundation
import MessageBus
import Mongo
import ServiceKit
import WorkerRuntime

/// `POST/GET /v1/payment-methods`, `DELETE /v1/payment-methods/{id}`: saved methods by provider
/// token. The gateway refuses card numbers before anything is queued; only brand, last 4 and expiry
/// are kept.
enum PaymentMethods {
    static func register(_ registry: inout HandlerRegistry, _ engine: BillingEngine) {
        registry.write(Commands.PaymentMethodCreate.self) { context in
            let access = Access(context.envelope.principal)
            let body = try CommandInput(context.envelope.payload).body(allowing: ["customer_id", "type", "token", "set_default"])
            var customerID = try body.string("customer_id", maxLength: 64)
            if access.principal.role == .customer {
                if let customerID, customerID != access.principal.customerID { throw Problem.notFound("customer \(customerID)") }
                customerID = access.principal.customerID
            }
            guard let customerID else { throw Problem.invalid("customer_id", "is required") }
            let type = try body.string("type", maxLength: 20) ?? "card"
            guard type == "card" else { throw Problem.invalid("type", "only 'card' is supported") }
            let token = try body.string("token", required: true, minLength: 1, maxLength: 64) ?? ""
            guard let card = engine.provider.card(forToken: token) else {
                throw Problem.invalid("token", "the payment provider does not know this token (try pm_card_visa)")
            }
            let txn = context.transaction
            guard try engine.customer(txn, tenant: access.tenant, id: customerID) != nil else {
                throw Problem.notFound("customer \(customerID)")
            }
            let methods = txn.collection(BillingCollections.paymentMethods, as: PaymentMethodDocument.self)
            let hasDefault = try methods.findOne([
                "tenant_id": .string(access.tenant), "customer_id": .string(customerID), "is_default": true, "status": "active",
            ]) != nil
            let makeDefault = try body.bool("set_default") ?? !hasDefault
            if makeDefault {
                _ = try methods.updateMany(
                    ["tenant_id": .string(access.tenant), "customer_id": .string(customerID)],
                    update: ["$set": ["is_default": false]])
            }
            let method = PaymentMethodDocument(
                id: ResourceID.make("pm", at: context.now), tenantID: access.tenant, customerID: customerID, type: type,
                providerToken: token, brand: card.brand, last4: card.last4, expMonth: card.expMonth, expYear: card.expYear,
                isDefault: makeDefault, status: "active", createdAt: context.now)
            _ = try methods.insertOne(method)
            context.emit(.paymentMethodAttached,
                payload: .object(["id": .string(method.id), "customer_id": .string(customerID)]))
            return HandlerResult(status: 201, body: method.json)
        }
        registry.read(Commands.PaymentMethodList.self) { envelope, context in
            let access = Access(envelope.principal)
            let query = try CommandInput(envelope.payload).query(allowing: PageRequest.parameters.union(["customer_id"]))
            let page = try PageRequest(query)
            var filter: BSONDocument = ["status": "active"]
            if let customer = try query.string("customer_id", maxLength: 64) { filter["customer_id"] = .string(customer) }
            guard let scoped = access.scope(filter) else { return HandlerResult(body: PageRequest.list([], hasMore: false)) }
            let found = try await page.find(
                context.database.collection(BillingCollections.paymentMethods, as: PaymentMethodDocument.self), scoped)
            return HandlerResult(body: page.page(found) { $0.json })
        }
        registry.write(Commands.PaymentMethodDelete.self) { context in
            let access = Access(context.envelope.principal)
            let id = try CommandInput(context.envelope.payload).pathID(prefix: "pm", what: "payment method")
            let methods = context.transaction.collection(BillingCollections.paymentMethods, as: PaymentMethodDocument.self)
            var filter = try access.one(id, what: "payment method")
            filter["status"] = "active"
            guard try methods.findOne(filter) != nil else { throw Problem.notFound("payment method") }
            _ = try methods.updateOne(filter, update: ["$set": ["status": "detached", "is_default": false]])
            context.emit(.paymentMethodDetached, payload: .object(["id": .string(id)]))
            return HandlerResult(status: 204, body: .null)
        }
    }
}
