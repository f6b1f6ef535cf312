import Contracts
import Foundation
import MessageBus
import Mongo
import ServiceKit
import WorkerRuntime

/// The auth side of a GDPR erasure: the customer service raises `customer.deleted`, and the auth
/// worker (consuming `billing:events` as group `auth-events`) erases the login behind it.
extension AuthService {
    public static let eventGroup = "auth-events"

    /// Handlers for the domain events auth reacts to; every other event is acknowledged unread.
    public func eventRegistry() -> HandlerRegistry {
        var registry = HandlerRegistry()
        registry.write(event: .customerDeleted) { context in try eraseLogin(context) }
        registry.readEvery { _, _ in HandlerResult(status: 204, body: .null) }
        return registry
    }

    /// Replaces the user's email and name, drops its password hash (it can never sign in again),
    /// revokes its sessions and deny-lists their access tokens at once (after the commit), so a
    /// token issued before the erasure stops working now, not when it expires. A second delivery
    /// finds nothing left to do.
    func eraseLogin(_ context: CommandContext) throws -> HandlerResult {
        let payload = context.envelope.payload
        guard let customerID = payload["id"]?.stringValue else { return HandlerResult(status: 204, body: .null) }
        let tenant = payload["tenant_id"]?.stringValue ?? context.envelope.principal.tenant
        let users = context.transaction.collection(AuthCollections.users, as: UserRecord.self)
        var filter: BSONDocument = ["tenant_id": .string(tenant), "customer_id": .string(customerID)]
        if let userID = payload["user_id"]?.stringValue { filter = ["tenant_id": .string(tenant), "_id": .string(userID)] }
        for user in try users.find(filter) where user.status != "erased" {
            _ = try users.updateOne(
                ["_id": .string(user.id)],
                update: [
                    "$set": [
                        "email": .string("erased-\(user.id)@erased.invalid"), "name": "", "password": .null,
                        "status": "erased", "email_verified": false, "updated_at": .datetime(context.now),
                    ],
                    "$inc": ["version": 1],
                ])
            let sessions = context.transaction.collection(AuthCollections.refreshTokens, as: RefreshTokenRecord.self)
            let recent = try sessions.find([
                "tenant_id": .string(tenant), "subject": .string(user.id),
                "created_at": ["$gt": .datetime(context.now.addingTimeInterval(-configuration.accessTokenTTL))],
            ])
            _ = try sessions.updateMany(
                ["tenant_id": .string(tenant), "subject": .string(user.id), "status": ["$ne": "revoked"]],
                update: ["$set": ["status": "revoked"]])
            let (names, ttl, denied) = (configuration.names, configuration.accessTokenTTL, recent.map(\.accessTokenID))
            context.afterCommit { redis in
                for jti in denied { try await Self.denyList(jti, redis: redis, names: names, accessTokenTTL: ttl) }
            }
            context.emit(.userErased, payload: .object(["user_id": .string(user.id), "customer_id": .string(customerID)]))
        }
        return HandlerResult(status: 204, body: .null)
    }
}
