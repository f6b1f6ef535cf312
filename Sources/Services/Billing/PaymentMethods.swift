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
        registry.write(Commands.PaymentMethodCreate.self) { context, payload in
            let access = Access(context.envelope.principal)
            let draft = payload.body
            var customerID = draft.customerID?.value
            if access.principal.role == .customer {
                if let customerID, customerID != access.principal.customerID { throw Problem.notFound("customer \(customerID)") }
                customerID = access.principal.customerID
            }
            guard let customerID else { throw Problem.invalid("customer_id", "customer_id is required") }
            let type = (draft.type ?? .card).rawValue
            let token = draft.token.value
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
            let makeDefault = draft.setDefault ?? !hasDefault
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
            return Answer(status: 201, method.resource)
        }
        registry.read(Commands.PaymentMethodList.self) { envelope, context, payload in
            let access = Access(envelope.principal)
            let page = PageRequest(payload.query.page)
            var filter: BSONDocument = ["status": "active"]
            if let customer = payload.query.filters.customerID?.value { filter["customer_id"] = .string(customer) }
            guard let scoped = access.scope(filter) else { return Answer(.empty) }
            let found = try await page.find(
                context.database.collection(BillingCollections.paymentMethods, as: PaymentMethodDocument.self), scoped)
            return Answer(page.page(found) { $0.resource })
        }
        registry.write(Commands.PaymentMethodDelete.self) { context, payload in
            let access = Access(context.envelope.principal)
            let id = try ResourceID.path(payload.path.id, prefix: "pm", what: "payment method")
            let methods = context.transaction.collection(BillingCollections.paymentMethods, as: PaymentMethodDocument.self)
            var filter = try access.one(id, what: "payment method")
            filter["status"] = "active"
            guard try methods.findOne(filter) != nil else { throw Problem.notFound("payment method") }
            _ = try methods.updateOne(filter, update: ["$set": ["status": "detached", "is_default": false]])
            context.emit(.paymentMethodDetached, payload: .object(["id": .string(id)]))
            return .noContent
        }
    }
}
