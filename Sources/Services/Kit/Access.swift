import MessageBus
import Mongo

/// What a principal may see, as MongoDB filters: every query is scoped to the principal's tenant,
/// and a customer principal to its own customer. Another customer's object is "not found" (404),
/// never "forbidden": a customer cannot even learn that it exists.
public struct Access: Sendable {
    public let principal: Principal

    public init(_ principal: Principal) { self.principal = principal }

    public var tenant: String { principal.tenant }

    /// Admins, service clients and the system itself act on the whole tenant (service scopes are
    /// checked at the gateway, per route).
    public var isStaff: Bool { principal.role != .customer }

    /// A 403 unless the principal's role is one of `roles`.
    public func require(_ roles: Set<Principal.Role>, to action: String) throws(Problem) {
        guard roles.contains(principal.role) else {
            throw Problem.forbidden("the \(principal.role.rawValue) role may not \(action)")
        }
    }

    /// `filter` limited to the tenant and, for a customer principal, to documents whose
    /// `customerField` is its customer (`"_id"` for the customers collection itself). nil when the
    /// principal can see nothing at all (a customer principal without a customer).
    public func scope(_ filter: BSONDocument = [:], customerField: String = "customer_id") -> BSONDocument? {
        var scoped: BSONDocument = ["tenant_id": .string(tenant)]
        if principal.role == .customer {
            guard let own = principal.customerID else { return nil }
            scoped[customerField] = .string(own)
        }
        for (key, value) in filter where key != "tenant_id" {
            if key == customerField, principal.role == .customer {
                // A customer asking for another customer's objects: the scoped value stays, and an
                // `$and` makes sure both must hold, so the answer is "nothing".
                if value != scoped[customerField] { scoped["$and"] = .array([.document([key: value])]) }
                continue
            }
            scoped[key] = value
        }
        return scoped
    }

    /// The filter for one object by `_id` in scope; throws 404 (as ``Problem/notFound(_:)``) when
    /// the principal may not see it whatever it is.
    public func one(_ id: String, what: String, customerField: String = "customer_id") throws(Problem) -> BSONDocument {
        guard let filter = scope(["_id": .string(id)], customerField: customerField) else { throw Problem.notFound(what) }
        return filter
    }

    /// For the customers collection: a customer principal may name only itself; anyone else's ID
    /// (existing or not) is a 404.
    public func customer(_ id: String, what: String = "customer") throws(Problem) -> BSONDocument {
        if principal.role == .customer, principal.customerID != id { throw Problem.notFound(what) }
        return try one(id, what: what, customerField: "_id")
    }
}
