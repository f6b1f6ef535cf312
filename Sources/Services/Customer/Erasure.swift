import Contracts
import Foundation
import MessageBus
import Mongo
import Redis
import ServiceKit
import WorkerRuntime

/// `customer.delete` is a GDPR erasure, not a document delete: the customer stays (status
/// `deleted`, for invoices and audit) with its personal data replaced, and every copy the system
/// keeps is reached in the same transaction.
extension CustomerHandlers {
    /// Subscription states that are over; any other subscription is canceled on erasure.
    static let endedSubscriptionStates: [String] = ["canceled", "incomplete_expired"]

    func erase(_ context: CommandContext, _ payload: Commands.CustomerDelete.Payload) throws -> Answer<Customer> {
        let access = Access(context.envelope.principal)
        let id = try ResourceID.path(payload.path.id, prefix: CustomerService.idPrefix, what: "customer")
        let filter = try access.customer(id)
        try access.require(Self.staff, to: "delete customers")
        let txn = context.transaction
        let customers = txn.collection(CustomerService.collection, as: CustomerDocument.self)
        guard var customer = try customers.findOne(filter) else { throw Problem.notFound("customer") }
        // Erased before: nothing is left to erase (a second DELETE answers the same).
        if customer.status == .deleted { return Answer(customer.resource) }
        guard customer.status.canBecome(.deleted) else { throw Self.erased }
        let tenant = access.tenant
        let userID = customer.userID

        // 1. The customer: personal data replaced, login link and metadata dropped.
        customer.name = Anonymised.name
        customer.email = Anonymised.email(id)
        customer.metadata = [:]
        customer.status = .deleted
        customer.userID = nil
        customer.deletedAt = context.now
        try write(
            customer,
            set: [
                "name": .string(customer.name), "email": .string(customer.email), "metadata": .document([:]),
                "status": .string("deleted"), "deleted_at": .datetime(millisecondsOf: context.now),
            ], unset: ["user_id"], customers, context)
        customer.version += 1
        customer.updatedAt = BSONValue.date(milliseconds: BSONValue.milliseconds(since1970: context.now))

        // 2. Replies the ledger stored for this customer's commands (8 days) now show the erased customer.
        let erasedJSON = try ValueEncoder.encode(customer.resource)
        let commands = try PersonalData.redactReplies(txn, subject: id, tenant: tenant) { reply in
            var redacted = reply
            if reply.result != nil { redacted.result = erasedJSON }
            return redacted
        }

        // 3. Subscriptions still running are canceled by the subscription worker, once each
        //    (the command ID is derived from the subscription, so a rerun sends nothing new).
        let subscriptions = try txn.collection("subscriptions", as: BSONDocument.self).findDocuments(
            [
                "tenant_id": .string(tenant), "customer_id": .string(id),
                "status": ["$nin": .array(Self.endedSubscriptionStates.map(BSONValue.string))],
            ], options: FindOptions(projection: ["_id": 1]))
        for subscription in subscriptions {
            guard let subscriptionID = subscription["_id"]?.stringValue else { continue }
            context.send(
                Commands.SubscriptionCancel.self,
                payload: .object([
                    "path": .object(["id": .string(subscriptionID)]), "query": .object([:]),
                    "body": .object(["at_period_end": .bool(false)]),
                ]), id: "\(subscriptionID):erasure")
        }

        // 4. Invoices are kept (bookkeeping), with an anonymised customer snapshot.
        try txn.collection("invoices", as: BSONDocument.self).updateMany(
            ["tenant_id": .string(tenant), "customer_id": .string(id)],
            update: [
                "$set": ["customer_name": .string(Anonymised.name), "customer_email": .string(Anonymised.email(id))],
                "$unset": ["customer_address": "", "customer_phone": "", "customer_shipping": ""],
            ])

        // 5. The auth worker erases the login's email when it sees this event.
        context.emit(.customerDeleted,
            payload: .object([
                "id": .string(id), "tenant_id": .string(tenant), "user_id": userID.map(JSONValue.string) ?? .null,
            ]))

        // 6. Redis: the cached customer and the 24 h operation state of its earlier writes.
        invalidate(context, customer)
        let operationKeys = commands.map(operations.operation)
        if !operationKeys.isEmpty {
            context.afterCommit { redis in _ = try await redis.send(DEL(keys: operationKeys)) }
        }
        return Answer(customer.resource)
    }
}
