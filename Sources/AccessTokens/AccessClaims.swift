import JWTKit

/// The claims of the access tokens the auth service signs (ES256, `kid` in the header) and the
/// gateway verifies (ES256, RS256 accepted): `iss` the configured issuer, `aud` the configured
/// audience, `sub`, `tenant`, `role` (admin|customer|service), `scope` (space-separated),
/// `customer_id` (customers), `jti`, `exp`, `nbf`, `iat`. One type for both sides of the contract.
public struct AccessClaims: JWTPayload {
    public var iss: IssuerClaim
    public var aud: AudienceClaim
    public var sub: SubjectClaim
    public var tenant: String
    public var role: String
    public var scope: String?
    public var customerID: String?
    public var jti: IDClaim
    public var exp: ExpirationClaim
    public var nbf: NotBeforeClaim?
    public var iat: IssuedAtClaim?

    public init(
        iss: IssuerClaim, aud: AudienceClaim, sub: SubjectClaim, tenant: String, role: String, scope: String?,
        customerID: String?, jti: IDClaim, exp: ExpirationClaim, nbf: NotBeforeClaim?, iat: IssuedAtClaim?
    ) {
        self.iss = iss
        self.aud = aud
        self.sub = sub
        self.tenant = tenant
        self.role = role
        self.scope = scope
        self.customerID = customerID
        self.jti = jti
        self.exp = exp
        self.nbf = nbf
        self.iat = iat
    }

    enum CodingKeys: String, CodingKey {
        case iss, aud, sub, tenant, role, scope, jti, exp, nbf, iat
        case customerID = "customer_id"
    }

    /// The signature is checked by jwt-kit before this; times and audience by the gateway's `Authenticator`.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}
