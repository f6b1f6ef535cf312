import AccessTokens
import Crypto
import Foundation
import JWTKit
import MessageBus
import ServiceKit

/// Signs access tokens with the newest signing key (ES256, `kid` in the header).
struct TokenIssuer: Sendable {
    let configuration: AuthConfiguration
    let keys: SigningKeyStore

    struct Issued: Sendable {
        var token: String
        var jti: String
        var expiresIn: Int
    }

    func accessToken(
        subject: String, role: String, tenant: String, customerID: String?, scope: String?, now: Date
    ) async throws -> Issued {
        let jti = ResourceID.make("jti", at: now)
        let lifetime = min(configuration.accessTokenTTL, 900)
        let claims = AccessClaims(
            iss: IssuerClaim(value: configuration.issuer), aud: AudienceClaim(value: [configuration.audience]),
            sub: SubjectClaim(value: subject), tenant: tenant, role: role, scope: scope, customerID: customerID,
            jti: IDClaim(value: jti), exp: ExpirationClaim(value: now.addingTimeInterval(lifetime)),
            nbf: NotBeforeClaim(value: now.addingTimeInterval(-1)), iat: IssuedAtClaim(value: now))
        let (kid, collection) = try await keys.signingKey(now: now)
        let token = try await collection.sign(claims, kid: JWKIdentifier(string: kid))
        return Issued(token: token, jti: jti, expiresIn: Int(lifetime))
    }
}

/// Random secrets and identifiers, and how they are stored.
enum Secrets {
    /// 256 random bits, base64url without padding (refresh tokens, client secrets, API keys).
    static func token() -> String {
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        return bytes.base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// How a high-entropy secret is stored and looked up.
    static func sha256Hex(_ text: String) -> String {
        Hex.encode(SHA256.hash(data: Data(text.utf8)))
    }
}

extension AuthService {
    /// An access token signed with the current key, as login would issue it; for tests and
    /// `billing-bench` only (`@_spi(Testing) import AuthService`), never reachable from a request.
    @_spi(Testing) public func accessTokenForTests(
        subject: String, role: String, tenant: String, customerID: String? = nil, scope: String? = nil, now: Date
    ) async throws -> String {
        try await issuer.accessToken(
            subject: subject, role: role, tenant: tenant, customerID: customerID, scope: scope, now: now
        ).token
    }
}
