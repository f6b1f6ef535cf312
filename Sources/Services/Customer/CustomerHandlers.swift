import BillingDomain
import Contracts
import Foundation
import MessageBus
import Mongo
import Redis
import ServiceKit
import WorkerRuntime

/// The handlers of the `customer` worker. Writes run in the processor's transaction; reads go
/// through the read cache where it helps (`customer.get`, `customer.me`).
struct CustomerHandlers: Sendable {
    let cache: ReadCache?
    let operations: ReplyPublisherKeys

    static let staff: Set<Principal.Role> = [.admin, .service, .system]

    // MARK: Writes

    func create(_ context: CommandContext, _ payload: Commands.CustomerCreate.Payload) throws -> Answer<Customer> {
        let access = Access(context.envelope.principal)
        try access.require(Self.staff, to: "create customers")
        let draft = payload.body
        let system = context.envelope.principal.role == .system
        // A pre-assigned `id` and the login's `user_id` come only from the auth worker (role system).
        if !system, let field = [("id", draft.id), ("user_id", draft.userID)].first(where: { $0.1 != nil })?.0 {
            throw Problem.unknownField(field)
        }
        var id = ResourceID.make(CustomerService.idPrefix, at: context.now)
        if let given = draft.id?.value {
            guard ResourceID.isWellFormed(given, prefix: CustomerService.idPrefix) else {
                throw Problem.invalid("id", "id must be a customer ID (cus_…)")
            }
            id = given
        }
        let email = draft.email.value

        let customers = context.transaction.collection(CustomerService.collection, as: CustomerDocument.self)
        if system, let existing = try customers.findOne(["_id": .string(id), "tenant_id": .string(access.tenant)]) {
            // The auth worker's signup command again (its own retry): answer what exists, change nothing.
            try PersonalData.note(context, subject: id)
            return Answer(existing.resource)
        }
        try ensureEmailFree(email, tenant: access.tenant, except: nil, customers)
        let customer = CustomerDocument(
            id: id, tenantID: access.tenant, name: draft.name.value, email: email, status: .active,
            metadata: draft.metadata?.values ?? [:], userID: draft.userID?.value, testClock: draft.testClock?.value,
            createdAt: context.now, updatedAt: context.now, deletedAt: nil, version: 1)
        do {
            try customers.insertOne(customer)
        } catch let error as MongoError where error.code == .duplicateKey {
            if error.indexName == "_id_" || error.message.contains("_id_") {
                throw Problem.conflict("id_taken", "a customer with this id already exists", param: "id")
            }
            throw Self.emailTaken
        }
        try PersonalData.note(context, subject: id)
        context.emit(.customerCreated, payload: Self.event(customer))
        invalidate(context, customer)
        return Answer(status: 201, customer.resource)
    }

    func update(_ context: CommandContext, _ payload: Commands.CustomerUpdate.Payload) throws -> Answer<Customer> {
        let access = Access(context.envelope.principal)
        let id = try ResourceID.path(payload.path.id, prefix: CustomerService.idPrefix, what: "customer")
        let filter = try access.customer(id)
        let changes = payload.body
        // Customers manage their own name and email; metadata is the integrator's.
        if !access.isStaff, changes.metadata != nil {
            throw Problem.forbidden(
                "a customer may change only its name and email; metadata is managed by the merchant", param: "metadata")
        }

        let customers = context.transaction.collection(CustomerService.collection, as: CustomerDocument.self)
        guard var customer = try customers.findOne(filter) else { throw Problem.notFound("customer") }
        guard customer.status != .deleted else { throw Self.erased }
        var set = BSONDocument()
        var fields: [String] = []
        if let name = changes.name?.value, name != customer.name {
            customer.name = name
            set["name"] = .string(name)
            fields.append("name")
        }
        if let email = changes.email?.value, email != customer.email {
            try ensureEmailFree(email, tenant: access.tenant, except: id, customers)
            customer.email = email
            set["email"] = .string(email)
            fields.append("email")
        }
        if let metadata = changes.metadata {
            let merged = try metadata.merged(into: customer.metadata)
            if merged != customer.metadata {
                customer.metadata = merged
                set["metadata"] = .document(BSONDocument(merged.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
                fields.append("metadata")
            }
        }
        try PersonalData.note(context, subject: id)
        guard !fields.isEmpty else { return Answer(customer.resource) }
        try write(customer, set: set, customers, context)
        customer.version += 1
        customer.updatedAt = BSONValue.date(milliseconds: BSONValue.milliseconds(since1970: context.now))
        var event = Self.event(customer)
        event = Self.adding("fields", .array(fields.map(JSONValue.string)), to: event)
        context.emit(.customerUpdated, payload: event)
        invalidate(context, customer)
        return Answer(customer.resource)
    }

    /// Suspend (`suspended`) or reactivate (`active`); asking for the state it is in changes nothing.
    func transition(_ context: CommandContext, _ path: IDPath, to next: CustomerStatus) throws -> Answer<Customer> {
        let access = Access(context.envelope.principal)
        let id = try ResourceID.path(path.id, prefix: CustomerService.idPrefix, what: "customer")
        let filter = try access.customer(id)
        try access.require(Self.staff, to: next == .suspended ? "suspend customers" : "reactivate customers")
        let customers = context.transaction.collection(CustomerService.collection, as: CustomerDocument.self)
        guard var customer = try customers.findOne(filter) else { throw Problem.notFound("customer") }
        try PersonalData.note(context, subject: id)
        if customer.status == next { return Answer(customer.resource) }
        guard customer.status.canBecome(next) else {
            throw customer.status == .deleted
                ? Self.erased
                : Problem.conflict("invalid_transition", "a \(customer.status.rawValue) customer cannot become \(next.rawValue)")
        }
        customer.status = next
        try write(customer, set: ["status": .string(next.rawValue)], customers, context)
        customer.version += 1
        customer.updatedAt = BSONValue.date(milliseconds: BSONValue.milliseconds(since1970: context.now))
        if next == .suspended {
            context.emit(.customerSuspended, payload: Self.event(customer))
        } else {
            context.emit(.customerUpdated, payload: Self.adding("fields", .array([.string("status")]), to: Self.event(customer)))
        }
        invalidate(context, customer)
        return Answer(customer.resource)
    }

    // MARK: Helpers

    static let emailTaken = Problem.conflict(
        "email_taken", "another customer of this account already uses this email address", param: "email")
    static let erased = Problem.conflict("customer_deleted", "this customer was deleted (erased) and cannot change")

    /// A pre-check for a clear 409; the unique index `tenant_email` still decides races.
    func ensureEmailFree(
        _ email: String, tenant: String, except id: String?, _ customers: MongoSyncCollection<CustomerDocument>
    ) throws {
        var filter: BSONDocument = ["tenant_id": .string(tenant), "email": .string(email)]
        if let id { filter["_id"] = ["$ne": .string(id)] }
        if try customers.count(filter, limit: 1) > 0 { throw Self.emailTaken }
    }

    /// The conditional write on `version`; a unique-index race on the email is a 409.
    func write(
        _ customer: CustomerDocument, set: BSONDocument, unset: [String] = [],
        _ customers: MongoSyncCollection<CustomerDocument>, _ context: CommandContext
    ) throws {
        do {
            try Versioned.update(
                customers, ["_id": .string(customer.id), "tenant_id": .string(customer.tenantID)],
                version: customer.version, set: set, unset: unset, at: context.now)
        } catch let error as MongoError where error.code == .duplicateKey {
            throw Self.emailTaken
        }
    }

    /// Drops the cached customer once the write committed (a tombstone at its new version).
    func invalidate(_ context: CommandContext, _ customer: CustomerDocument) {
        guard let cache else { return }
        let (tenant, id, version) = (customer.tenantID, customer.id, customer.version)
        context.afterCommit { redis in try await cache.invalidate(redis, tenant: tenant, id: id, version: version) }
    }

    /// Customer events carry IDs and state, never the name or email: the events stream keeps
    /// entries for 7 days and fans out to webhooks, and erasure could not reach copies there.
    static func event(_ customer: CustomerDocument) -> JSONValue {
        var payload: [String: JSONValue] = [
            "id": .string(customer.id), "tenant_id": .string(customer.tenantID), "status": .string(customer.status.rawValue),
        ]
        if let userID = customer.userID { payload["user_id"] = .string(userID) }
        return .object(payload)
    }

    static func adding(_ key: String, _ value: JSONValue, to object: JSONValue) -> JSONValue {
        guard case .object(var fields) = object else { return object }
        fields[key] = value
        return .object(fields)
    }
}
