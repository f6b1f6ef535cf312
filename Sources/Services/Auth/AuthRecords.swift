import Contracts
import Foundation

/// A login. `email` is normalised (trimmed, lowercased) and unique per tenant.
struct UserRecord: Codable, Sendable {
    var id: String
    var tenantID: String
    var email: String
    var emailVerified: Bool
    var name: String
    var password: PasswordHash?
    /// `admin` or `customer`.
    var role: String
    var customerID: String?
    /// `active`, or `erased` once its customer was erased (GDPR): it can no longer sign in.
    var status: String
    var createdAt: Date
    var updatedAt: Date
    var version: Int

    /// The API representation (schemas/openapi.yaml `User`).
    var resource: User {
        User(id: id, email: email, name: name, role: role, emailVerified: emailVerified, customerID: customerID, createdAt: createdAt)
    }
}

/// An opaque refresh token, stored as the SHA-256 of its value. Every rotation adds a member to
/// the family; presenting one that was already rotated revokes the whole family.
struct RefreshTokenRecord: Codable, Sendable {
    var id: String
    var tenantID: String
    /// The user (or OAuth client) it acts for.
    var subject: String
    var familyID: String
    /// `active`, `rotated` (used once, replaced) or `revoked`.
    var status: String
    /// The `jti` of the access token issued with it (deny-listed when the family is revoked).
    var accessTokenID: String
    var expiresAt: Date
    var createdAt: Date
    var rotatedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id = "_id"
        case subject, status
        case tenantID = "tenant_id"
        case familyID = "family_id"
        case accessTokenID = "access_jti"
        case expiresAt = "expires_at"
        case createdAt = "created_at"
        case rotatedAt = "rotated_at"
    }
}

/// A single-use email-verification token, stored as the SHA-256 of its value.
struct EmailVerificationRecord: Codable, Sendable {
    var id: String
    var tenantID: String
    var userID: String
    var expiresAt: Date
    var usedAt: Date?
    var createdAt: Date
}

/// An OAuth 2.0 client (client-credentials grant); its secret is stored as a SHA-256 (it is 256
/// random bits, so a slow hash adds nothing).
struct OAuthClientRecord: Codable, Sendable {
    var id: String
    var tenantID: String
    var name: String
    var secretHash: String
    var scopes: [String]
    /// `active` or `deleted`.
    var status: String
    var createdAt: Date
    var updatedAt: Date
    var version: Int
}

/// A third-party API key (`sk_live_…`/`sk_test_…`), stored as the SHA-256 of the whole key, with
/// its first characters kept to recognise it in a list.
struct APIKeyRecord: Codable, Sendable {
    var id: String
    var tenantID: String
    var name: String
    var prefix: String
    var hash: String
    var scopes: [String]
    /// `live` or `test`.
    var mode: String
    /// `active` or `revoked`.
    var status: String
    var createdAt: Date
    var revokedAt: Date?
}

enum AuthCollections {
    static let users = "users"
    static let refreshTokens = "refresh_tokens"
    static let emailVerifications = "email_verifications"
    static let oauthClients = "oauth_clients"
    static let apiKeys = "api_keys"
}
