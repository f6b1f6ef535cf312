import MessageBus

// schemas/commands/auth.*, api_key.* and oauth_client.*.json as types (CommandCatalogTests keeps
// them in agreement). Passwords are `Text`: the policy (length, common, the email) is the worker's.

/// `POST /v1/auth/signup`: a login and the customer it belongs to.
public struct Signup: Decodable, Sendable {
    public let email: EmailAddress
    public let password: Text<1, 200>
    public let name: Text<1, 200>
}

/// `POST /v1/auth/login`.
public struct Credentials: Decodable, Sendable {
    public let email: EmailAddress
    public let password: Text<1, 200>
}

/// `POST /v1/auth/refresh`: the refresh token to rotate.
public struct RefreshGrant: Decodable, Sendable {
    public let refreshToken: Text<1, 500>
}

/// `POST /v1/auth/logout`: the session's refresh token, or none (the access token's session then).
public struct Logout: Decodable, Sendable {
    public let refreshToken: Text<0, 500>?
}

/// `POST /v1/auth/verify-email`: the single-use token the email carried.
public struct EmailVerification: Decodable, Sendable {
    public let token: Text<1, 500>
}

/// `POST /v1/oauth/token` (RFC 6749): the grant and its parameters, form-encoded or JSON; the
/// client's credentials come from `Authorization: Basic` or the body. Parameters it does not know
/// are ignored (§3.2); which grant, and what each needs, is the worker's check, in RFC 6749's errors.
public struct TokenRequest: Decodable, Sendable, IgnoresUnknownFields {
    public let grantType: Text<0, 100>
    public let clientID: Text<0, 200>?
    public let clientSecret: Text<0, 500>?
    public let refreshToken: Text<0, 500>?
    public let scope: Text<0, 1000>?
}

/// Scopes such as `customers:read` (at most 50, repeats dropped).
public struct ScopeList: Decodable, Sendable, Hashable {
    public let values: [String]

    public init(from decoder: any Decoder) throws {
        var values: [String] = []
        for scope in try Items<Text<1, 100>, 50>(from: decoder).values.map(\.value) where !values.contains(scope) {
            guard scope.wholeMatch(of: /[a-z_]+:(read|write)/) != nil else {
                throw FieldError("must each look like 'customers:read' or 'invoices:write'")
            }
            values.append(scope)
        }
        self.values = values
    }
}

/// `POST /v1/oauth/clients`.
public struct OAuthClientDraft: Decodable, Sendable {
    public let name: Text<1, 200>
    public let scopes: ScopeList
}

/// `POST /v1/api-keys`: `live` keys (the default) or `test` ones (`sk_test_…`).
public struct APIKeyDraft: Decodable, Sendable {
    public let name: Text<1, 200>
    public let scopes: ScopeList?
    public let mode: APIKeyMode?
}

/// Which data an API key works on.
public enum APIKeyMode: String, Decodable, Sendable, CaseIterable {
    case live, test
}

extension Commands.AuthSignup { public typealias Payload = CallerRequest<Signup> }
extension Commands.AuthLogin { public typealias Payload = CallerRequest<Credentials> }
extension Commands.AuthRefresh { public typealias Payload = CallerRequest<RefreshGrant> }
extension Commands.AuthVerifyEmail { public typealias Payload = CallerRequest<EmailVerification> }
extension Commands.AuthToken { public typealias Payload = CallerRequest<TokenRequest> }
extension Commands.AuthLogout { public typealias Payload = Request<NoFields, NoFields, Logout> }
extension Commands.OauthClientCreate { public typealias Payload = Request<NoFields, NoFields, OAuthClientDraft> }
extension Commands.OauthClientList { public typealias Payload = Request<NoFields, Listing<NoFields>, NoFields> }
extension Commands.OauthClientDelete { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.ApiKeyCreate { public typealias Payload = Request<NoFields, NoFields, APIKeyDraft> }
extension Commands.ApiKeyList { public typealias Payload = Request<NoFields, Listing<NoFields>, NoFields> }
extension Commands.ApiKeyDelete { public typealias Payload = Request<IDPath, NoFields, NoFields> }
