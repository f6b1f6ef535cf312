import Contracts
import Foundation
import MessageBus
import Mongo
import Redis
import ServiceKit
import WorkerRuntime

/// OAuth 2.0 clients (RFC 6749 §4.4 client credentials) and the token endpoint.
extension AuthService {
    func createClient(_ context: CommandContext, _ draft: OAuthClientDraft) throws -> Answer<OAuthClient> {
        let (name, scopes) = (draft.name.value, draft.scopes.values)
        let now = context.now
        let secret = "cs_" + Secrets.token()
        let client = OAuthClientRecord(
            id: ResourceID.make("cli", at: now), tenantID: context.envelope.principal.tenant, name: name,
            secretHash: Secrets.sha256Hex(secret), scopes: scopes, status: "active", createdAt: now, updatedAt: now,
            version: 1)
        _ = try context.transaction.collection(AuthCollections.oauthClients, as: OAuthClientRecord.self).insertOne(client)
        context.emit(.oauthClientCreated, payload: .object(["id": .string(client.id), "scopes": .array(scopes.map(JSONValue.string))]))
        return Answer(status: 201, client.resource(secret: secret))
    }

    func listClients(_ envelope: Envelope, _ context: ReadContext) async throws -> Answer<Page<OAuthClient>> {
        let clients = try await context.database.collection(AuthCollections.oauthClients, as: OAuthClientRecord.self).find(
            ["tenant_id": .string(envelope.principal.tenant), "status": "active"],
            options: FindOptions(sort: ["created_at": -1], limit: 100))
        return Answer(Page(clients.map { $0.resource() }, hasMore: false))
    }

    func deleteClient(_ envelope: Envelope, _ context: TransactContext, _ path: IDPath) async throws -> Answer<NoContent> {
        let id = try ResourceID.path(path.id, prefix: "cli", what: "OAuth client")
        let tenant = envelope.principal.tenant
        let now = context.now
        guard
            try await context.database.collection(AuthCollections.oauthClients, as: OAuthClientRecord.self)
                .findOne(["_id": .string(id), "tenant_id": .string(tenant), "status": "active"]) != nil
        else { throw Problem.notFound("OAuth client \(id)") }
        // Its tokens stop at once: no new access token is recorded for it any more, those it holds
        // are deny-listed, its refresh tokens revoked. (Before the commit: a redelivery does it again.)
        for jti in try await closeClientTokens(id) { try await denyList(jti) }
        for token in try await context.database.collection(AuthCollections.refreshTokens, as: RefreshTokenRecord.self)
            .find(["subject": .string(id), "tenant_id": .string(tenant)])
        {
            try await revokeFamily(token.familyID, now: now)
        }
        return try await context.commit { txn in
            let clients = txn.transaction.collection(AuthCollections.oauthClients, as: OAuthClientRecord.self)
            let result = try clients.updateOne(
                ["_id": .string(id), "tenant_id": .string(tenant), "status": "active"],
                update: ["$set": ["status": "deleted", "updated_at": .datetime(now)], "$inc": ["version": 1]])
            guard result.matchedCount == 1 else { throw Problem.notFound("OAuth client \(id)") }
            _ = try txn.transaction.collection(AuthCollections.refreshTokens, as: RefreshTokenRecord.self).updateMany(
                ["subject": .string(id), "tenant_id": .string(tenant)], update: ["$set": ["status": "revoked"]])
            txn.emit(.oauthClientDeleted, payload: .object(["id": .string(id)]))
            return .noContent
        }
    }

    // MARK: The token endpoint

    static func oauthError(_ code: String, _ detail: String, status: Int = 400) -> Problem {
        Problem(status: status, code: code, title: code, detail: detail)
    }

    /// `POST /v1/oauth/token`: `client_credentials` and `refresh_token` grants, RFC 6749 errors.
    func token(_ envelope: Envelope, _ context: TransactContext) async throws -> Answer<TokenResponse> {
        let form: TokenRequest
        do throws(Problem) {
            form = try Commands.AuthToken.payload(of: envelope).body
        } catch {
            throw Self.oauthError("invalid_request", error.detail)
        }
        let grant = form.grantType.value
        switch grant {
        case "client_credentials": return try await clientCredentials(form, context)
        case "refresh_token":
            guard let presented = form.refreshToken?.value, !presented.isEmpty else {
                throw Self.oauthError("invalid_request", "refresh_token is required")
            }
            return try await refresh(presented, context, oauth: true)
        case "": throw Self.oauthError("invalid_request", "grant_type is required")
        default: throw Self.oauthError("unsupported_grant_type", "the grant type '\(grant.prefix(60))' is not supported")
        }
    }

    private func clientCredentials(_ form: TokenRequest, _ context: TransactContext) async throws -> Answer<TokenResponse> {
        guard let clientID = form.clientID?.value, !clientID.isEmpty, let secret = form.clientSecret?.value else {
            throw Self.oauthError("invalid_client", "client authentication failed: send client_id and client_secret", status: 401)
        }
        let client = try await context.database.collection(AuthCollections.oauthClients, as: OAuthClientRecord.self)
            .findOne(["_id": .string(clientID), "status": "active"])
        let presented = Secrets.sha256Hex(secret)
        guard let client, ConstantTime.equal(Array(presented.utf8), Array(client.secretHash.utf8)) else {
            throw Self.oauthError("invalid_client", "client authentication failed", status: 401)
        }
        var scopes = client.scopes
        if let requested = form.scope?.value {
            let asked = requested.split(separator: " ").map(String.init)
            guard !asked.isEmpty else { throw Self.oauthError("invalid_scope", "the scope parameter is empty") }
            let refused = asked.filter { !client.scopes.contains($0) }
            guard refused.isEmpty else {
                throw Self.oauthError(
                    "invalid_scope", "this client may not have: \(refused.joined(separator: " ").prefix(200))")
            }
            scopes = asked
        }
        let scope = scopes.joined(separator: " ")
        // RFC 6749 §4.4.3: no refresh token for client credentials.
        let access = try await issuer.accessToken(
            subject: client.id, role: "service", tenant: client.tenantID, customerID: nil, scope: scope, now: context.now)
        guard try await recordClientToken(client.id, jti: access.jti, lifetime: access.expiresIn) else {
            throw Self.oauthError("invalid_client", "client authentication failed", status: 401)
        }
        return Answer(TokenResponse(accessToken: access.token, expiresIn: access.expiresIn, refreshToken: nil, scope: scope))
    }

    // MARK: A client's access tokens

    // Client-credentials tokens are recorded per client (a sorted set of jti by expiry, `{client}`
    // tagged with its closed flag, so both scripts touch one hash slot), so deleting the client can
    // deny-list them at once. Recording refuses once the client is closed, and closing returns what
    // was recorded: a token is either recorded before the close (and deny-listed) or refused.

    private func clientTokenKeys(_ client: String) -> [String] {
        ["\(configuration.names.prefix):auth:{\(client)}:tokens", "\(configuration.names.prefix):auth:{\(client)}:closed"]
    }

    // KEYS: tokens, closed. ARGV: jti, expiry (ms since 1970), now (ms). 1 recorded, 0 closed.
    static let recordToken = RedisScript(
        """
        if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
        redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
        redis.call('PEXPIREAT', KEYS[1], tonumber(ARGV[2]) + 60000)
        return 1
        """)

    // KEYS: tokens, closed. ARGV: how long the flag stays (ms), now (ms). The unexpired jti recorded.
    static let closeTokens = RedisScript(
        """
        redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
        return redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], '+inf')
        """)

    private func recordClientToken(_ client: String, jti: String, lifetime: Int) async throws -> Bool {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let reply = try await redis.eval(
            Self.recordToken, keys: clientTokenKeys(client),
            arguments: [RedisArgument(jti), RedisArgument(now + Int64(lifetime) * 1000), RedisArgument(now)])
        return reply.int == 1
    }

    /// Closes the client's token record (a day: longer than any token it issued lives) and returns the
    /// unexpired tokens it holds.
    private func closeClientTokens(_ client: String) async throws -> [String] {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let reply = try await redis.eval(
            Self.closeTokens, keys: clientTokenKeys(client), arguments: [RedisArgument(86_400_000), RedisArgument(now)])
        return reply.array?.compactMap(\.string) ?? []
    }
}

extension OAuthClientRecord {
    /// The API representation (schemas/openapi.yaml `OAuthClient`); the secret only when just created.
    func resource(secret: String? = nil) -> OAuthClient {
        OAuthClient(id: id, name: name, scopes: scopes, createdAt: createdAt, clientSecret: secret)
    }
}
