import Foundation
import MessageBus

// The auth worker's answers (schemas/openapi.yaml `TokenResponse`, `User`, `OAuthClient`, `ApiKey`).

/// An access token, and for a session its refresh token (RFC 6749 §5.1); sign-up and sign-in add
/// the user. Both tokens are shown once.
public struct TokenResponse: Codable, Sendable, ShowsSecretsOnce {
    public static let secretFields = ["access_token", "refresh_token"]

    public var accessToken: String
    public var tokenType = "Bearer"
    public var expiresIn: Int
    public var refreshToken: String?
    public var scope: String?
    public var user: User?

    public init(accessToken: String, expiresIn: Int, refreshToken: String?, scope: String?, user: User? = nil) {
        (self.accessToken, self.expiresIn, self.refreshToken, self.scope, self.user) =
            (accessToken, expiresIn, refreshToken, scope, user)
    }
}

/// A login; `customer_id` for a customer's.
public struct User: Codable, Sendable {
    public var id: String
    public var object = "user"
    public var email, name, role: String
    public var emailVerified: Bool
    public var customerID: String?
    public var createdAt: Date

    public init(id: String, email: String, name: String, role: String, emailVerified: Bool, customerID: String?, createdAt: Date) {
        (self.id, self.email, self.name, self.role, self.emailVerified) = (id, email, name, role, emailVerified)
        (self.customerID, self.createdAt) = (customerID, createdAt)
    }
}

/// `POST /v1/auth/verify-email`: whose address is now verified.
public struct EmailVerified: Codable, Sendable {
    public var userID: String
    public var emailVerified = true

    public init(userID: String) { self.userID = userID }
}

/// An OAuth client; `client_secret` only in the answer that created it.
public struct OAuthClient: Codable, Sendable, ShowsSecretsOnce {
    public static let secretFields = ["client_secret"]

    public var id: String
    public var object = "oauth_client"
    public var clientID: String
    public var name: String
    public var scopes: [String]
    public var createdAt: Date
    public var clientSecret: String?

    public init(id: String, name: String, scopes: [String], createdAt: Date, clientSecret: String? = nil) {
        (self.id, self.clientID, self.name, self.scopes, self.createdAt) = (id, id, name, scopes, createdAt)
        self.clientSecret = clientSecret
    }
}

/// An API key: its prefix, never the key, except in the answer that created it (`key`).
public struct APIKey: Codable, Sendable, ShowsSecretsOnce {
    public static let secretFields = ["key"]

    public var id: String
    public var object = "api_key"
    public var name, prefix, mode: String
    public var scopes: [String]
    public var createdAt: Date
    /// As the gateway records it (RFC 3339); `null` until first used.
    @Nullable public var lastUsedAt: String?
    public var key: String?

    public init(
        id: String, name: String, prefix: String, mode: String, scopes: [String], createdAt: Date, lastUsedAt: String?,
        key: String? = nil
    ) {
        (self.id, self.name, self.prefix, self.mode, self.scopes) = (id, name, prefix, mode, scopes)
        (self.createdAt, self.lastUsedAt, self.key) = (createdAt, lastUsedAt, key)
    }
}
