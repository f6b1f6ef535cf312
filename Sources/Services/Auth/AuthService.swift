import Contracts
import Crypto
import Foundation
import Logging
import MessageBus
import Mongo
import Redis
import ServiceKit
import WorkerRuntime

/// The `auth` worker: users (signup, login, email verification), token refresh with rotation and
/// reuse detection, logout, OAuth 2.0 clients and the token endpoint, API keys.
public struct AuthService: Sendable {
    public static let name = "auth"

    public let configuration: AuthConfiguration
    public let keys: SigningKeyStore
    let issuer: TokenIssuer
    let throttle: LoginThrottle
    let redis: RedisClient
    /// A hash verified when the email is unknown, so both failures take as long.
    let decoy: PasswordHash?

    public init(configuration: AuthConfiguration, database: MongoDatabase, redis: RedisClient) {
        self.configuration = configuration
        self.redis = redis
        self.keys = SigningKeyStore(
            database: database, redis: redis, names: configuration.names, encryptionKey: configuration.keyEncryptionKey,
            accessTokenTTL: configuration.accessTokenTTL)
        self.issuer = TokenIssuer(configuration: configuration, keys: keys)
        self.throttle = LoginThrottle(redis: redis, configuration: configuration)
        self.decoy = try? configuration.hasher.hash(Secrets.token())
    }

    public func registry() -> HandlerRegistry {
        var registry = HandlerRegistry()
        registry.transact(Commands.AuthSignup.self) { envelope, context, payload in
            try await signup(envelope, context, payload.body)
        }
        registry.transact(Commands.AuthLogin.self) { envelope, context, payload in
            try await login(envelope, context, payload.body, ip: payload.client.ip)
        }
        registry.transact(Commands.AuthRefresh.self) { _, context, payload in
            try await refresh(payload.body.refreshToken.value, context, oauth: false)
        }
        registry.transact(Commands.AuthLogout.self) { envelope, context, payload in
            try await logout(envelope, context, refreshToken: payload.body.refreshToken?.value)
        }
        registry.transact(Commands.AuthVerifyEmail.self) { _, context, payload in
            try await verifyEmail(payload.body.token.value, context)
        }
        // The token endpoint decodes its own payload: a malformed request is RFC 6749's invalid_request.
        registry.transact(Commands.AuthToken.self) { envelope, context in try await token(envelope, context) }
        registry.write(Commands.OauthClientCreate.self) { context, payload in try createClient(context, payload.body) }
        // API keys and OAuth clients are few: each list is one page of up to 100, whatever the query's
        // limit and cursor (checked, not used).
        registry.read(Commands.OauthClientList.self) { envelope, context, _ in try await listClients(envelope, context) }
        registry.transact(Commands.OauthClientDelete.self) { envelope, context, payload in
            try await deleteClient(envelope, context, payload.path)
        }
        registry.write(Commands.ApiKeyCreate.self) { context, payload in try createAPIKey(context, payload.body) }
        registry.read(Commands.ApiKeyList.self) { envelope, context, _ in try await listAPIKeys(envelope, context) }
        registry.write(Commands.ApiKeyDelete.self) { context, payload in try revokeAPIKey(context, payload.path) }
        return registry
    }

    // MARK: Users

    func signup(_ envelope: Envelope, _ context: TransactContext, _ form: Signup) async throws -> Answer<TokenResponse> {
        let (email, password, name) = (form.email.value, form.password.value, form.name.value)
        let failed = PasswordPolicy.violations(password, email: email)
        guard failed.isEmpty else {
            throw Problem(
                status: 422, code: "weak_password", title: "Password too weak",
                detail: "the password does not meet the policy: " + failed.joined(separator: "; "), param: "password")
        }
        let tenant = envelope.principal.tenant
        // A tenant other than `default` exists once the operator created it (`tenants`, read here).
        if tenant != TenantID.defaultTenant,
            try await context.database.collection("tenants", as: BSONDocument.self).findOne(["_id": .string(tenant)]) == nil
        {
            throw Problem.invalid("Billing-Tenant", "no tenant '\(tenant)' takes signups here")
        }
        let users = context.database.collection(AuthCollections.users, as: UserRecord.self)
        if try await users.findOne(["tenant_id": .string(tenant), "email": .string(email)]) != nil {
            throw Self.emailTaken()
        }
        let hasher = configuration.hasher
        let hash = try await context.offload { try hasher.hash(password) }
        let now = context.now
        let userID = ResourceID.make("usr", at: now)
        let customerID = ResourceID.make("cus", at: now)
        let verification = Secrets.token()
        let session = try await newSession(
            subject: userID, role: "customer", tenant: tenant, customerID: customerID, now: now)
        let configuration = configuration
        let created = try await context.commit { txn in
            let user = UserRecord(
                id: userID, tenantID: tenant, email: email, emailVerified: false, name: name, password: hash,
                role: "customer", customerID: customerID, status: "active", createdAt: now, updatedAt: now, version: 1)
            do {
                _ = try txn.transaction.collection(AuthCollections.users, as: UserRecord.self).insertOne(user)
            } catch let error as MongoError where error.isDuplicateKey {
                throw Self.emailTaken()
            }
            _ = try txn.transaction.collection(AuthCollections.refreshTokens, as: RefreshTokenRecord.self).insertOne(
                session.record)
            _ = try txn.transaction.collection(AuthCollections.emailVerifications, as: EmailVerificationRecord.self)
                .insertOne(
                    EmailVerificationRecord(
                        id: Secrets.sha256Hex(verification), tenantID: tenant, userID: userID,
                        expiresAt: now.addingTimeInterval(configuration.emailVerificationTTL), createdAt: now))
            // Auth never writes customers: the customer service creates the profile with this id.
            txn.send(
                Commands.CustomerCreate.self,
                payload: .object([
                    "body": .object([
                        "id": .string(customerID), "name": .string(name), "email": .string(email),
                        "user_id": .string(userID),
                    ])
                ]), id: "signup-\(userID)")
            let expires = MessageCoding.formatTimestamp(now.addingTimeInterval(configuration.emailVerificationTTL))
            txn.emit(.userRegistered,
                payload: .object([
                    "user_id": .string(userID), "customer_id": .string(customerID), "email": .string(email),
                    "verification_expires_at": .string(expires),
                ]))
            // The token goes to the notifier as a command of its own, never on billing:events (every
            // events reader and `*` webhook endpoint of the tenant would see it there).
            txn.send(
                Commands.NotifyEmailVerification.self,
                payload: .object([
                    "user_id": .string(userID), "customer_id": .string(customerID), "email": .string(email),
                    "verification_token": .string(verification), "expires_at": .string(expires),
                ]), id: "verify-\(userID)")
            // The stored reply names the person: erasing the customer redacts it (ServiceKit.PersonalData).
            try PersonalData.note(txn, subject: customerID)
            return Answer(status: 201, session.tokens(for: user))
        }
        // Read-your-writes: answer once the customer service has created the profile the new token
        // names, so the client's first `GET /v1/customers/me` finds it (bounded: a customer worker
        // that is down delays the profile, not the signup).
        await awaitCustomer(customerID, tenant: tenant, database: context.database)
        return created
    }

    /// Waits up to `signupCustomerWait` for the customer `id` to exist (auth only reads customers).
    func awaitCustomer(_ id: String, tenant: String, database: MongoDatabase) async {
        let end = ContinuousClock.now + configuration.signupCustomerWait
        let customers = database.collection("customers", as: BSONDocument.self)
        while ContinuousClock.now < end {
            if (try? await customers.count(["_id": .string(id), "tenant_id": .string(tenant)])) ?? 0 > 0 { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    func login(_ envelope: Envelope, _ context: TransactContext, _ credentials: Credentials, ip: String?) async throws
        -> Answer<TokenResponse>
    {
        let (email, password) = (credentials.email.value, credentials.password.value)
        let tenant = envelope.principal.tenant
        if let wait = try await throttle.lockedFor(tenant: tenant, email: email, ip: ip) {
            throw Problem(
                status: 429, code: "too_many_attempts", title: "Too many failed sign-ins",
                detail: "sign-in is locked after repeated failures; retry in \(wait) s", retryAfter: wait)
        }
        let users = context.database.collection(AuthCollections.users, as: UserRecord.self)
        let user = try await users.findOne([
            "tenant_id": .string(tenant), "email": .string(email), "status": "active",
        ])
        let hasher = configuration.hasher
        let stored = user?.password ?? decoy
        let matches: Bool
        if let stored {
            matches = try await context.offload { try hasher.verify(password, against: stored) } && user != nil
        } else {
            matches = false
        }
        guard let user, matches else {
            let locked = try await throttle.recordFailure(tenant: tenant, email: email, ip: ip)
            let userID = user?.id
            return try await context.commit { txn in
                txn.emit(.userLoginFailed,
                    payload: .object([
                        "user_id": userID.map(JSONValue.string) ?? .null,
                        "email_sha256": .string(Secrets.sha256Hex(email)),
                        "ip": ip.map(JSONValue.string) ?? .null,
                        "locked_seconds": .number(String(locked)),
                    ]))
                txn.fail(with: Self.invalidCredentials())
                return .withoutBody(status: 401)
            }
        }
        try await throttle.recordSuccess(tenant: tenant, email: email, ip: ip)
        let rehash = hasher.needsRehash(user.password ?? decoy!) ? try await context.offload { try hasher.hash(password) } : nil
        let session = try await newSession(
            subject: user.id, role: user.role, tenant: tenant, customerID: user.customerID, now: context.now)
        let now = context.now
        return try await context.commit { txn in
            _ = try txn.transaction.collection(AuthCollections.refreshTokens, as: RefreshTokenRecord.self).insertOne(
                session.record)
            if let rehash {
                _ = try txn.transaction.collection(AuthCollections.users, as: UserRecord.self).updateOne(
                    ["_id": .string(user.id)],
                    update: ["$set": ["password": try BSONEncoder().encodeValue(rehash), "updated_at": .datetime(now)], "$inc": ["version": 1]])
            }
            if let customerID = user.customerID { try PersonalData.note(txn, subject: customerID) }
            return Answer(session.tokens(for: user))
        }
    }

    func verifyEmail(_ token: String, _ context: TransactContext) async throws -> Answer<EmailVerified> {
        let now = context.now
        let id = Secrets.sha256Hex(token)
        return try await context.commit { txn in
            let verifications = txn.transaction.collection(
                AuthCollections.emailVerifications, as: EmailVerificationRecord.self)
            guard let record = try verifications.findOne(["_id": .string(id)]), record.usedAt == nil,
                record.expiresAt > now
            else {
                throw Problem(
                    status: 400, code: "invalid_token", title: "Invalid token",
                    detail: "the verification token is unknown, expired or already used", param: "token")
            }
            let used = try verifications.updateOne(
                ["_id": .string(id), "used_at": .null], update: ["$set": ["used_at": .datetime(now)]])
            guard used.modifiedCount == 1 else {
                throw Problem(
                    status: 400, code: "invalid_token", title: "Invalid token", detail: "the verification token was already used",
                    param: "token")
            }
            _ = try txn.transaction.collection(AuthCollections.users, as: UserRecord.self).updateOne(
                ["_id": .string(record.userID)],
                update: ["$set": ["email_verified": true, "updated_at": .datetime(now)], "$inc": ["version": 1]])
            txn.emit(.userEmailVerified, payload: .object(["user_id": .string(record.userID)]))
            return Answer(EmailVerified(userID: record.userID))
        }
    }

    // MARK: Sessions: refresh, logout

    struct Session: Sendable {
        var record: RefreshTokenRecord
        var tokens: TokenResponse

        /// The answer to a sign-up or sign-in: the tokens and the user.
        func tokens(for user: UserRecord) -> TokenResponse {
            var answer = tokens
            answer.user = user.resource
            return answer
        }
    }

    /// A new access token and refresh token (in `family`, or a new family).
    func newSession(
        subject: String, role: String, tenant: String, customerID: String?, scope: String? = nil, family: String? = nil,
        now: Date
    ) async throws -> Session {
        let access = try await issuer.accessToken(
            subject: subject, role: role, tenant: tenant, customerID: customerID, scope: scope, now: now)
        let refresh = "rt_" + Secrets.token()
        let record = RefreshTokenRecord(
            id: Secrets.sha256Hex(refresh), tenantID: tenant, subject: subject,
            familyID: family ?? ResourceID.make("fam", at: now), status: "active", accessTokenID: access.jti,
            expiresAt: now.addingTimeInterval(configuration.refreshTokenTTL), createdAt: now)
        return Session(
            record: record,
            tokens: TokenResponse(accessToken: access.token, expiresIn: access.expiresIn, refreshToken: refresh, scope: scope))
    }

    /// `POST /v1/auth/refresh` and the `refresh_token` grant: rotates the `presented` token; an
    /// already rotated one revokes its family (reuse: someone else holds a copy).
    func refresh(_ presented: String, _ context: TransactContext, oauth: Bool) async throws -> Answer<TokenResponse> {
        let now = context.now
        let tokens = context.database.collection(AuthCollections.refreshTokens, as: RefreshTokenRecord.self)
        @Sendable func invalid(_ detail: String) -> Problem {
            oauth
                ? Problem(status: 400, code: "invalid_grant", title: "Invalid grant", detail: detail)
                : Problem(status: 401, code: "invalid_refresh_token", title: "Invalid refresh token", detail: detail)
        }
        guard let record = try await tokens.findOne(["_id": .string(Secrets.sha256Hex(presented))]),
            record.expiresAt > now
        else { throw invalid("the refresh token is unknown or expired") }
        guard record.status == "active" else {
            try await revokeFamily(record.familyID, now: now)
            return try await context.commit { txn in
                _ = try txn.transaction.collection(AuthCollections.refreshTokens, as: RefreshTokenRecord.self).updateMany(
                    ["family_id": .string(record.familyID), "status": ["$ne": "revoked"]],
                    update: ["$set": ["status": "revoked"]])
                txn.emit(.authRefreshReuseDetected,
                    payload: .object(["subject": .string(record.subject), "family_id": .string(record.familyID)]))
                txn.fail(with: invalid("the refresh token was already used; every session of its family is revoked"))
                return .withoutBody(status: 401)
            }
        }
        let subject = try await sessionSubject(record, context: context)
        guard let subject else { throw invalid("the account behind this refresh token can no longer sign in") }
        let session = try await newSession(
            subject: record.subject, role: subject.role, tenant: record.tenantID, customerID: subject.customerID,
            scope: subject.scope, family: record.familyID, now: now)
        return try await context.commit { txn in
            let tokens = txn.transaction.collection(AuthCollections.refreshTokens, as: RefreshTokenRecord.self)
            let rotated = try tokens.updateOne(
                ["_id": .string(record.id), "status": "active"],
                update: ["$set": ["status": "rotated", "rotated_at": .datetime(now)]])
            // Two uses of one token at once: the second is a reuse too, so the family is revoked,
            // the winner's new session with it (it may be the thief's), its access tokens deny-listed.
            guard rotated.modifiedCount == 1 else {
                let family = try tokens.find(["family_id": .string(record.familyID)])
                _ = try tokens.updateMany(
                    ["family_id": .string(record.familyID), "status": ["$ne": "revoked"]],
                    update: ["$set": ["status": "revoked"]])
                let (names, ttl) = (configuration.names, configuration.accessTokenTTL)
                let denied = family.filter { $0.createdAt > now.addingTimeInterval(-ttl) }.map(\.accessTokenID)
                txn.afterCommit { redis in
                    for jti in denied { try await Self.denyList(jti, redis: redis, names: names, accessTokenTTL: ttl) }
                }
                txn.emit(.authRefreshReuseDetected,
                    payload: .object(["subject": .string(record.subject), "family_id": .string(record.familyID)]))
                txn.fail(with: invalid("the refresh token was already used; every session of its family is revoked"))
                return .withoutBody(status: 401)
            }
            _ = try tokens.insertOne(session.record)
            return Answer(session.tokens)
        }
    }

    /// Who a refresh token acts for now (role and customer may have changed since it was issued).
    private func sessionSubject(_ record: RefreshTokenRecord, context: TransactContext) async throws
        -> (role: String, customerID: String?, scope: String?)?
    {
        let users = context.database.collection(AuthCollections.users, as: UserRecord.self)
        guard let user = try await users.findOne(["_id": .string(record.subject), "status": "active"]) else {
            return nil
        }
        return (user.role, user.customerID, nil)
    }

    /// Deny-lists the unexpired access tokens of a family (before its revocation commits: harmless if
    /// that fails and the command is retried).
    func revokeFamily(_ family: String, now: Date) async throws {
        let tokens = try await keysDatabase.collection(AuthCollections.refreshTokens, as: RefreshTokenRecord.self).find([
            "family_id": .string(family), "created_at": ["$gt": .datetime(now.addingTimeInterval(-configuration.accessTokenTTL))],
        ])
        for token in tokens { try await denyList(token.accessTokenID) }
    }

    var keysDatabase: MongoDatabase { keys.database }

    func denyList(_ jti: String) async throws {
        try await Self.denyList(jti, redis: redis, names: configuration.names, accessTokenTTL: configuration.accessTokenTTL)
    }

    /// Deny-lists an access token until it would have expired anyway (plus a minute of clock skew).
    static func denyList(_ jti: String, redis: RedisClient, names: StreamNames, accessTokenTTL: TimeInterval) async throws {
        _ = try await redis.send(
            SET("\(names.prefix):auth:deny:\(jti)", value: "1", expiry: .milliseconds(Int(accessTokenTTL * 1000) + 60_000)))
    }

    func logout(_ envelope: Envelope, _ context: TransactContext, refreshToken presented: String?) async throws
        -> Answer<NoContent>
    {
        let principal = envelope.principal
        if let jti = principal.tokenID { try await denyList(jti) }
        let tokens = context.database.collection(AuthCollections.refreshTokens, as: RefreshTokenRecord.self)
        var family: String?
        if let presented {
            guard let record = try await tokens.findOne(["_id": .string(Secrets.sha256Hex(presented))]),
                record.subject == principal.subject, record.tenantID == principal.tenant
            else {
                throw Problem.invalid("refresh_token", "the refresh token is not one of this session's")
            }
            family = record.familyID
        } else if let jti = principal.tokenID {
            family = try await tokens.findOne(["access_jti": .string(jti)])?.familyID
        }
        if let family { try await revokeFamily(family, now: context.now) }
        let revoked = family
        return try await context.commit { txn in
            if let family = revoked {
                _ = try txn.transaction.collection(AuthCollections.refreshTokens, as: RefreshTokenRecord.self).updateMany(
                    ["family_id": .string(family), "status": ["$ne": "revoked"]], update: ["$set": ["status": "revoked"]])
            }
            txn.emit(.userLoggedOut, payload: .object(["subject": .string(principal.subject)]))
            return .noContent
        }
    }

    // MARK: Helpers

    static func emailTaken() -> Problem {
        Problem(
            status: 409, code: "email_taken", title: "Email taken", detail: "an account with this email already exists",
            param: "email")
    }

    static func invalidCredentials() -> Problem {
        Problem(status: 401, code: "invalid_credentials", title: "Invalid credentials", detail: "the email or password is wrong")
    }
}

extension MongoError {
    var isDuplicateKey: Bool {
        code == .duplicateKey || writeErrors.contains { [11000, 11001, 12582].contains($0.serverCode) }
    }
}
