import Contracts
import Foundation
import MessageBus
import Mongo
import ServiceKit

extension AuthService {
    /// What `billing admin bootstrap` did: created the first admin (with its one-time password), or nothing.
    public struct BootstrapResult: Sendable {
        public var created: Bool
        public var email: String
        /// Shown once; nil when an admin already existed.
        public var password: String?
    }

    /// Creates the tenant's first admin with a generated password, unless the tenant has an admin.
    public func bootstrapAdmin(email rawEmail: String, tenant: String, now: Date) async throws -> BootstrapResult {
        let users = keys.database.collection(AuthCollections.users, as: UserRecord.self)
        if let existing = try await users.findOne(["tenant_id": .string(tenant), "role": "admin"]) {
            return BootstrapResult(created: false, email: existing.email, password: nil)
        }
        let email = rawEmail.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        // The rule login applies: an admin created here must be able to sign in.
        guard EmailAddress.isValid(email) else {
            throw Problem.invalid("email", "'\(email)' is not an email address (a dotted domain, such as admin@example.com)")
        }
        // 24 characters from a 256-bit secret: far above the policy.
        let password = String(Secrets.token().prefix(24))
        let hasher = configuration.hasher
        let hash = try await Task.detached { try hasher.hash(password) }.value
        let user = UserRecord(
            id: ResourceID.make("usr", at: now), tenantID: tenant, email: email, emailVerified: true, name: "Administrator",
            password: hash, role: "admin", customerID: nil, status: "active", createdAt: now, updatedAt: now, version: 1)
        _ = try await users.insertOne(user)
        return BootstrapResult(created: true, email: email, password: password)
    }
}
