import AccessTokens
import Crypto
import Foundation
import JWTKit
import MessageBus
import Redis
import Synchronization

/// Turns a Bearer JWT or an API key into a ``Principal``.
///
/// Reads what the auth service publishes in Redis (prefix from ``StreamNames``):
/// - `<prefix>:auth:jwks`: the JWKS JSON document of the signing keys (re-read after `jwksCacheTTL`, and
///   at once when a token names an unknown `kid`, at most once a second);
/// - `<prefix>:auth:deny:<jti>`: exists while a logged-out token is still unexpired;
/// - `<prefix>:auth:apikey:<lowercase hex SHA-256 of the whole key>`: JSON
///   `{"subject","role","scopes":[..],"tenant","customer_id"?}` for `sk_live_…`/`sk_test_…` keys.
public final class Authenticator: Sendable {
    private let redis: RedisClient
    private let prefix: String
    private let configuration: GatewayConfiguration
    private let cache: JWKSCache

    public init(redis: RedisClient, configuration: GatewayConfiguration) {
        self.redis = redis
        self.prefix = configuration.names.prefix
        self.configuration = configuration
        self.cache = JWKSCache(redis: redis, key: "\(configuration.names.prefix):auth:jwks", ttl: configuration.jwksCacheTTL)
    }

    /// The JWKS key the auth service writes.
    public var jwksKey: String { "\(prefix):auth:jwks" }
    public func denyKey(_ jti: String) -> String { "\(prefix):auth:deny:\(jti)" }
    public func apiKeyKey(_ key: String) -> String { "\(prefix):auth:apikey:\(Self.sha256Hex(key))" }

    static func sha256Hex(_ text: String) -> String {
        Hex.encode(SHA256.hash(data: Data(text.utf8)))
    }

    /// The credential a request carries: `Authorization: Bearer …` or `X-Api-Key`; nil when none.
    static func credential(authorization: String?, apiKey: String?) throws(GatewayError) -> String? {
        if let apiKey, !apiKey.isEmpty { return apiKey }
        guard let authorization else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw .unauthorized("the Authorization header must be 'Bearer <token>'")
        }
        // Spaces and tabs around the token (not Foundation's trimming: it bridges through NSString).
        let isBlank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        let bytes = parts[1].utf8
        guard let first = bytes.firstIndex(where: { !isBlank($0) }), let last = bytes.lastIndex(where: { !isBlank($0) })
        else { throw .unauthorized("the Authorization header must be 'Bearer <token>'") }
        return String(parts[1][first...last])
    }

    /// Verifies a credential; throws a 401 ``GatewayError`` saying why it was refused, 503 when Redis is down.
    /// With `checkingRevocation: false` whether the credential still stands is left to the caller, who
    /// must check ``revocationCheck(for:principal:)`` (the gateway does it with the rate limit, in one
    /// round trip): a token's deny-list entry is not read, and an API key seen in the last minute is
    /// taken from memory (its record is immutable while it exists; revoking deletes it).
    ///
    /// `beforeVerifying` runs before a token's signature is verified (not for a token verified in the
    /// last minute): the gateway counts the client's IP there, so a flood of made-up tokens meets a
    /// 429 before it costs a signature verification each.
    public func principal(
        for credential: String, checkingRevocation: Bool = true,
        beforeVerifying: () async throws(GatewayError) -> Void = {}
    ) async throws(GatewayError) -> Principal {
        if Self.isAPIKey(credential) {
            return try await apiKeyPrincipal(credential, remembering: !checkingRevocation)
        }
        return try await tokenPrincipal(credential, checkingDenyList: checkingRevocation, beforeVerifying: beforeVerifying)
    }

    static func isAPIKey(_ credential: String) -> Bool {
        credential.hasPrefix("sk_live_") || credential.hasPrefix("sk_test_")
    }

    /// What the caller of `principal(for:checkingRevocation: false)` must check in Redis before
    /// acting for `principal`: a token's deny-list entry must be absent, an API key's record present.
    func revocationCheck(for credential: String, principal: Principal) -> RevocationCheck? {
        if Self.isAPIKey(credential) { return .mustExist(apiKeyKey(credential)) }
        return principal.tokenID.map { .mustBeAbsent(denyKey($0)) }
    }

    /// Signature verifications done so far (tokens not verified in the last minute).
    var signatureVerifications: Int { verifications.load(ordering: .relaxed) }
    private let verifications = Atomic<Int>(0)

    /// API key records read from Redis so far (keys not seen in the last minute, or read for a
    /// caller that does not check revocation itself).
    var apiKeyReads: Int { apiKeyReadCount.load(ordering: .relaxed) }
    private let apiKeyReadCount = Atomic<Int>(0)

    /// An API key's record as the auth service publishes it (`id`, `subject`, `role`, `scopes`,
    /// `tenant`, `customer_id`), read on every request that carries a key.
    private struct StoredAPIKey {
        var id: String?
        var subject: String
        var role: String
        var scopes: [String]
        var tenant: String
        var customerID: String?

        init?(json bytes: [UInt8]) {
            guard case .object(let o)? = JSONReader.value(bytes), let subject = o["subject"]?.stringValue,
                let role = o["role"]?.stringValue, let tenant = o["tenant"]?.stringValue
            else { return nil }
            self.id = o["id"]?.stringValue
            self.subject = subject
            self.role = role
            self.tenant = tenant
            self.customerID = o["customer_id"]?.stringValue
            switch o["scopes"] {
            case nil, .null?: self.scopes = []
            case .array(let items)?:
                let names = items.compactMap(\.stringValue)
                guard names.count == items.count else { return nil }
                self.scopes = names
            default: return nil
            }
        }
    }

    /// When each API key's use was last written (at most once a minute per key, per gateway).
    private let lastUseWritten = Mutex<[String: ContinuousClock.Instant]>([:])

    /// `<prefix>:auth:apikey-last-used`: key id → RFC 3339 time of its last use (the auth service lists it).
    public var apiKeyLastUsedKey: String { "\(prefix):auth:apikey-last-used" }

    private func recordUse(ofKey id: String) async {
        let now = ContinuousClock.now
        let due = lastUseWritten.withLock { written in
            if let last = written[id], now - last < .seconds(60) { return false }
            written[id] = now
            return true
        }
        guard due else { return }
        // Best effort: a failure here never refuses the request.
        _ = try? await redis.send(
            HSET(apiKeyLastUsedKey, fields: [(id, RedisArgument(MessageCoding.formatTimestamp(Date())))]))
    }

    /// API keys read lately, by their Redis key, kept for at most ``verifiedTokenLifetime``: a third
    /// party sends the same key with every request, and reading its record was a round trip each.
    /// Only for callers that check the record still exists in their own round trip (the admission
    /// script does), so a revoked key is refused at once, by every gateway.
    private let rememberedKeys = Mutex<[String: (principal: Principal, id: String?, until: ContinuousClock.Instant)]>([:])

    private func apiKeyPrincipal(_ key: String, remembering: Bool) async throws(GatewayError) -> Principal {
        let redisKey = apiKeyKey(key)
        let now = ContinuousClock.now
        if remembering {
            let remembered = rememberedKeys.withLock { keys -> (principal: Principal, id: String?)? in
                guard let entry = keys[redisKey] else { return nil }
                if entry.until > now { return (entry.principal, entry.id) }
                keys[redisKey] = nil
                return nil
            }
            if let remembered {
                if let id = remembered.id { await recordUse(ofKey: id) }
                return remembered.principal
            }
        }
        let stored: [UInt8]?
        apiKeyReadCount.add(1, ordering: .relaxed)
        do {
            stored = try await redis.send(GET(redisKey))
        } catch {
            throw .unavailable("cannot check the API key now; retry shortly")
        }
        guard let stored, let record = StoredAPIKey(json: stored),
            let role = Principal.Role(rawValue: record.role), role != .system
        else { throw Self.unknownAPIKey }
        if let id = record.id { await recordUse(ofKey: id) }
        let principal = Principal(
            subject: record.subject, role: role, scopes: record.scopes, tenant: record.tenant,
            customerID: record.customerID)
        if remembering {
            rememberedKeys.withLock { keys in
                if keys.count >= Self.verifiedTokenCapacity { keys.removeAll(keepingCapacity: true) }
                keys[redisKey] = (principal, record.id, now + Self.verifiedTokenLifetime)
            }
        }
        return principal
    }

    private struct Header: Decodable {
        var alg: String?
        var kid: String?
    }

    static let acceptedAlgorithms: Set<String> = ["ES256", "RS256"]
    static let revoked = GatewayError.unauthorized("the token was revoked")
    static let unknownAPIKey = GatewayError.unauthorized("unknown or revoked API key")

    /// The 401 for a credential its revocation check refused.
    static func revoked(_ check: RevocationCheck?) -> GatewayError {
        if case .mustExist? = check { return unknownAPIKey }
        return revoked
    }

    /// Tokens whose signature was verified, kept for at most ``verifiedTokenLifetime`` (a client
    /// sends the same token with every request; an ECDSA verification is most of a request's CPU).
    /// Times, audience, issuer and the deny-list are still checked on every request.
    private let verifiedTokens = Mutex<[String: (claims: AccessClaims, until: ContinuousClock.Instant)]>([:])
    static let verifiedTokenLifetime: Duration = .seconds(60)
    static let verifiedTokenCapacity = 10_000

    private func tokenPrincipal(
        _ token: String, checkingDenyList: Bool, beforeVerifying: () async throws(GatewayError) -> Void
    ) async throws(GatewayError) -> Principal {
        let clock = ContinuousClock.now
        let remembered = verifiedTokens.withLock { tokens -> AccessClaims? in
            guard let entry = tokens[token] else { return nil }
            if entry.until > clock { return entry.claims }
            tokens[token] = nil
            return nil
        }
        if let remembered { return try await principal(from: remembered, checkingDenyList: checkingDenyList) }
        try await beforeVerifying()
        verifications.add(1, ordering: .relaxed)
        let claims = try await verifiedClaims(token)
        verifiedTokens.withLock { tokens in
            if tokens.count >= Self.verifiedTokenCapacity { tokens.removeAll(keepingCapacity: true) }
            tokens[token] = (claims, clock + Self.verifiedTokenLifetime)
        }
        return try await principal(from: claims, checkingDenyList: checkingDenyList)
    }

    /// Checks the token's header and signature against the published keys.
    private func verifiedClaims(_ token: String) async throws(GatewayError) -> AccessClaims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerData = Data(base64URL: String(parts[0])),
            let header = try? JSONDecoder().decode(Header.self, from: headerData)
        else { throw .unauthorized("the token is not a JWT") }
        guard let alg = header.alg, Self.acceptedAlgorithms.contains(alg) else {
            throw .unauthorized("the token's algorithm '\(header.alg ?? "")' is not accepted")
        }
        guard let kid = header.kid, !kid.isEmpty else { throw .unauthorized("the token names no key (kid)") }
        let keys: JWTKeyCollection?
        do {
            keys = try await cache.keys(for: kid)
        } catch {
            throw .unavailable("cannot read the signing keys now; retry shortly")
        }
        guard let keys else { throw .unauthorized("the token was signed with an unknown key") }
        do {
            return try await keys.verify(token, as: AccessClaims.self)
        } catch {
            throw .unauthorized("the token's signature or claims are invalid")
        }
    }

    /// The principal of verified claims: times, audience, issuer, role and the deny-list checked now.
    private func principal(from claims: AccessClaims, checkingDenyList: Bool) async throws(GatewayError) -> Principal {
        let now = Date()
        do {
            try claims.exp.verifyNotExpired(currentDate: now.addingTimeInterval(-configuration.clockSkew))
            try claims.nbf?.verifyNotBefore(currentDate: now.addingTimeInterval(configuration.clockSkew))
            try claims.aud.verifyIntendedAudience(includes: configuration.audience)
        } catch {
            throw .unauthorized("the token is expired, not yet valid, or meant for another audience")
        }
        guard claims.iss.value == configuration.issuer else { throw .unauthorized("the token has another issuer") }
        guard let role = Principal.Role(rawValue: claims.role), role != .system else {
            throw .unauthorized("the token's role is not known")
        }
        if checkingDenyList {
            let denied: Int
            do {
                denied = try await redis.send(EXISTS(denyKey(claims.jti.value)))
            } catch {
                throw .unavailable("cannot check the token now; retry shortly")
            }
            guard denied == 0 else { throw Self.revoked }
        }
        let scopes = (claims.scope ?? "").split(separator: " ").map(String.init)
        return Principal(
            subject: claims.sub.value, role: role, scopes: scopes, tenant: claims.tenant, customerID: claims.customerID,
            tokenID: claims.jti.value)
    }
}

/// The JWKS from Redis as a jwt-kit key collection, with the `kid`s it holds.
actor JWKSCache {
    private let redis: RedisClient
    private let key: String
    private let ttl: Duration
    private var keys: JWTKeyCollection?
    private var kids: Set<String> = []
    private var loadedAt: ContinuousClock.Instant?

    init(redis: RedisClient, key: String, ttl: Duration) {
        self.redis = redis
        self.key = key
        self.ttl = ttl
    }

    /// The reload in progress, which every caller arriving meanwhile waits for (the actor is
    /// reentrant: without this, requests arriving during the first load saw no keys and got 401).
    private var loading: Task<Void, any Error>?

    /// The collection when it holds `kid` (reloading once if not, or if stale); nil for an unknown key.
    func keys(for kid: String) async throws -> JWTKeyCollection? {
        if let loading { try await loading.value }
        let now = ContinuousClock.now
        let stale = loadedAt.map { now - $0 > ttl } ?? true
        let recentlyLoaded = loadedAt.map { now - $0 < .seconds(1) } ?? false
        if stale || (!kids.contains(kid) && !recentlyLoaded) {
            try await reloadOnce()
        }
        return kids.contains(kid) ? keys : nil
    }

    private func reloadOnce() async throws {
        if let loading { return try await loading.value }
        let task = Task { try await self.reload() }
        loading = task
        defer { loading = nil }
        try await task.value
    }

    /// Reads the JWKS and swaps in the new keys at once (no suspension between the assignments).
    private func reload() async throws {
        let data = try await redis.send(GET(key))
        var collection: JWTKeyCollection?
        var loaded: Set<String> = []
        if let data, let jwks = try? JSONDecoder().decode(JWKS.self, from: Data(data)) {
            let keys = JWTKeyCollection()
            for jwk in jwks.keys {
                guard let kid = jwk.keyIdentifier?.string else { continue }
                if (try? await keys.add(jwk: jwk, isDefault: false)) != nil { loaded.insert(kid) }
            }
            collection = keys
        }
        keys = collection
        kids = loaded
        loadedAt = ContinuousClock.now
    }
}

extension Data {
    /// Decodes base64url without padding, as JWT segments are written.
    init?(base64URL text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64.append("=") }
        self.init(base64Encoded: base64)
    }
}
