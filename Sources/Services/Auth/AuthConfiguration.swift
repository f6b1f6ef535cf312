import Crypto
import Foundation
import MessageBus

/// What the auth service needs to know besides its data: token lifetimes, the JWT issuer and
/// audience the gateway checks, the password hashing cost, the key that seals signing keys, and
/// the login throttle.
public struct AuthConfiguration: Sendable {
    public var names: StreamNames
    public var issuer: String = "billing"
    public var audience: String = "billing-api"
    /// Access tokens live at most 15 minutes.
    public var accessTokenTTL: TimeInterval = 900
    public var refreshTokenTTL: TimeInterval = 30 * 86_400
    public var emailVerificationTTL: TimeInterval = 86_400
    /// How long signup waits for the customer service to create the new customer before answering
    /// (read-your-writes for the client's first request); zero answers at once.
    public var signupCustomerWait: Duration = .seconds(3)
    public var hasher = PasswordHasher()
    /// Seals the signing keys' private halves (AES-256-GCM).
    public var keyEncryptionKey: SymmetricKey
    /// Failures before an account is locked; a client IP gets `ipThresholdFactor` times as many.
    public var lockoutThreshold = 5
    public var ipThresholdFactor = 4
    /// The first lockout; each further failure doubles it, up to `lockoutMax`.
    public var lockoutBase: TimeInterval = 30
    public var lockoutMax: TimeInterval = 3600
    /// Failures are counted over this window.
    public var failureWindow: TimeInterval = 900

    public init(names: StreamNames, keyEncryptionKey: SymmetricKey) {
        self.names = names
        self.keyEncryptionKey = keyEncryptionKey
    }

    /// The key a development setup uses when none is configured (never in production mode).
    public static let developmentKeyEncryptionKey = SymmetricKey(
        data: SHA256.hash(data: Data("billing development key encryption key; never use in production".utf8)))

    /// Parses `BILLING_AUTH_KEY_ENCRYPTION_KEY`: 32 bytes, base64.
    public static func keyEncryptionKey(base64 text: String) -> SymmetricKey? {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespaces)), data.count == 32 else {
            return nil
        }
        return SymmetricKey(data: data)
    }
}
