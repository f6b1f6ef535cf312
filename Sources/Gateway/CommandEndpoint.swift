import Contracts
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MessageBus
import NIOCore
import Redis

/// The one handler behind every route of the table: authenticate, rate-limit, authorise, read and
/// validate the body, apply the idempotency key, send the command, and answer with its reply (or 202).
struct CommandEndpoint: Sendable {
    let configuration: GatewayConfiguration
    let authenticator: Authenticator
    let rateLimiter: RateLimiter
    let idempotency: IdempotencyStore
    let bus: CommandBus
    let replies: ReplyRouter
    let openAPI: OpenAPIDocument?
    let metrics: GatewayMetrics
    let redis: RedisClient
    let logger: Logger

    static let anonymousSubject = "anonymous"

    /// The tenant a request without credentials names in `Billing-Tenant`, or `default`; a 400 naming
    /// the header when it cannot be a tenant id.
    static func requestedTenant(_ request: Request) throws(GatewayError) -> String {
        guard let value = request.headers[GatewayHeaders.tenant] else { return TenantID.defaultTenant }
        guard TenantID.isValid(value) else {
            throw GatewayError.badRequest(
                "Billing-Tenant must be a tenant id: 1 to 40 lower-case letters, digits, - or _", param: "Billing-Tenant")
        }
        return value
    }

    // MARK: Edge checks shared with the gateway's own routes

    /// The client address used for per-IP limits and sign-in throttling: the connecting peer, or,
    /// when that peer is a trusted proxy, the rightmost `X-Forwarded-For` entry that is not one
    /// (the entries before it are the client's to write).
    func clientIP(_ request: Request, context: GatewayContext) -> String {
        configuration.trustedProxies.client(
            peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers[GatewayHeaders.forwardedFor]) ?? "local"
    }

    /// The verified principal of a request, or nil when it carries no credential. Whether the
    /// credential was revoked is not checked here (`context.state.revocation` says what to check):
    /// the rate limit's round trip checks it.
    /// `beforeVerifying` runs before a token's signature is verified (see ``Authenticator``).
    private func authenticate(
        _ request: Request, context: GatewayContext, beforeVerifying: () async throws(GatewayError) -> Void
    ) async throws(GatewayError) -> Principal? {
        guard
            let credential = try Authenticator.credential(
                authorization: request.headers[.authorization], apiKey: request.headers[GatewayHeaders.apiKey])
        else { return nil }
        let principal = try await authenticator.principal(
            for: credential, checkingRevocation: false, beforeVerifying: beforeVerifying)
        context.state.principal = principal
        context.state.revocation = authenticator.revocationCheck(for: credential, principal: principal)
        return principal
    }

    /// Authenticates and rate-limits a request: the principal (nil when it carries no credential)
    /// and the `RateLimit-*` headers. A refused credential (a revoked token too), or none where one
    /// is `required`, is counted against the client's IP in the route's tier, so guessing tokens or
    /// API keys meets a 429 like any other flood (the 401 carries the `RateLimit-*` headers). A
    /// token's deny-list entry is checked in the rate limit's round trip.
    func admit(_ request: Request, context: GatewayContext, rateClass: GatewayRoute.RateClass, required: Bool, ip: String)
        async throws(GatewayError) -> (Principal?, HTTPFields)
    {
        let principal = try await authenticate(request, context: context, rateClass: rateClass, required: required, ip: ip)
        return (principal, try await countingRefusal(rateClass, ip: ip, context: context) { () async throws(GatewayError) in
            try await rateLimit(rateClass, principal: principal, revocation: context.state.revocation, ip: ip)
        })
    }

    /// Authenticates a request for a route, without counting an accepted credential yet: a refused
    /// one, or none where one is `required`, is counted against the client's IP. A token not
    /// verified lately is counted against the IP before its signature is verified (the costliest
    /// step of a request: made-up tokens meet the limit first), and that count stands for the
    /// refusal should the token be refused.
    private func authenticate(
        _ request: Request, context: GatewayContext, rateClass: GatewayRoute.RateClass, required: Bool, ip: String
    ) async throws(GatewayError) -> Principal? {
        var counted: HTTPFields?
        do throws(GatewayError) {
            let principal = try await authenticate(request, context: context) { () async throws(GatewayError) in
                counted = try await rateLimit(rateClass, principal: nil, revocation: nil, ip: ip)
            }
            if required, principal == nil {
                throw GatewayError.unauthorized("this route needs a Bearer token or an API key")
            }
            return principal
        } catch where error.problem.status == 401 {
            guard let counted else { throw try await countedRefusal(error, rateClass, ip: ip, context: context) }
            context.state.principal = nil
            var refused = error
            refused.headers.append(contentsOf: counted)
            throw refused
        }
    }

    /// Runs `body`; a 401 it throws (a refused credential, a revoked token) is first counted against
    /// the client's IP in the route's tier, so guessing tokens or API keys meets a 429 like any other
    /// flood (the 401 carries the `RateLimit-*` headers).
    private func countingRefusal<T>(
        _ rateClass: GatewayRoute.RateClass, ip: String, context: GatewayContext, _ body: () async throws(GatewayError) -> T
    ) async throws(GatewayError) -> T {
        do throws(GatewayError) {
            return try await body()
        } catch where error.problem.status == 401 {
            throw try await countedRefusal(error, rateClass, ip: ip, context: context)
        }
    }

    /// A 401, counted against the client's IP in the route's tier (a 429 instead when over it).
    private func countedRefusal(
        _ error: GatewayError, _ rateClass: GatewayRoute.RateClass, ip: String, context: GatewayContext
    ) async throws(GatewayError) -> GatewayError {
        context.state.principal = nil
        var refused = error
        refused.headers.append(contentsOf: try await rateLimit(rateClass, principal: nil, revocation: nil, ip: ip))
        return refused
    }

    /// Counts the request against its tier; 429 with `Retry-After` and `RateLimit-*` when over. A
    /// principal whose credential was revoked (`revocation`: a logged-out token, a deleted API key)
    /// is refused (401).
    /// Without Redis: the auth tier fails closed (503), the standard tier fails open (logged), except
    /// that a credential cannot be accepted without its revocation check (503).
    func rateLimit(
        _ rateClass: GatewayRoute.RateClass, principal: Principal?, revocation: RevocationCheck?, ip: String
    ) async throws(GatewayError) -> HTTPFields {
        let (tier, identity, limit) = bucket(rateClass, principal: principal, ip: ip)
        let decision: RateLimitDecision
        do {
            decision = try await rateLimiter.check(tier: tier, identity: identity, limit: limit, revocation: revocation)
        } catch {
            if rateClass == .auth { throw .unavailable("rate limiting is unavailable; sign-in is paused for safety") }
            if revocation != nil { throw .unavailable("cannot check the credential now; retry shortly") }
            logger.warning("rate limit unavailable, allowing", metadata: ["tier": "\(tier)", "error": "\(error)"])
            return [:]
        }
        return try headers(for: decision, tier: tier, limit: limit, revocation: revocation)
    }

    /// The tier, identity and limit a request counts against.
    private func bucket(_ rateClass: GatewayRoute.RateClass, principal: Principal?, ip: String)
        -> (tier: String, identity: String, limit: RateLimitTier)
    {
        switch (rateClass, principal) {
        case (.auth, _): ("auth", ip, configuration.authLimit)
        case (.standard, let principal?): ("principal", "\(principal.tenant):\(principal.subject)", configuration.principalLimit)
        case (.standard, nil): ("ip", ip, configuration.ipLimit)
        }
    }

    /// The `RateLimit-*` headers of an allowed request; a revoked token's 401 or a 429 otherwise.
    private func headers(
        for decision: RateLimitDecision, tier: String, limit: RateLimitTier, revocation: RevocationCheck?
    ) throws(GatewayError) -> HTTPFields {
        if decision.denied { throw Authenticator.revoked(revocation) }
        if decision.full {
            metrics.streamFull(tier: tier)
            throw GatewayError(
                status: 503, code: "backlog_full", title: "Service busy",
                detail: "the service's command stream holds its capacity (a backlog is draining); nothing was done, retry later",
                headers: [.retryAfter: String(max(5, configuration.retryAfterSeconds))])
        }
        var headers: HTTPFields = [
            GatewayHeaders.rateLimitLimit: String(decision.limit),
            GatewayHeaders.rateLimitRemaining: String(decision.remaining),
            GatewayHeaders.rateLimitReset: String(decision.resetSeconds),
        ]
        guard decision.allowed else {
            metrics.rateLimited(tier: tier)
            headers[.retryAfter] = String(max(1, decision.retryAfterSeconds))
            throw GatewayError(
                status: 429, code: "rate_limited", title: "Too many requests",
                detail: "the \(tier) rate limit is \(limit.rate)/s with a burst of \(limit.burst); retry after \(max(1, decision.retryAfterSeconds)) s",
                headers: headers)
        }
        return headers
    }

    // MARK: The table's handler

    func handle(_ route: GatewayRoute, _ request: Request, context: GatewayContext) async throws -> Response {
        guard route.oauthTokenEndpoint else { return try await handleCommand(route, request, context: context) }
        do {
            return try await handleCommand(route, request, context: context)
        } catch let error as GatewayError {
            return OAuthError.answer(for: error.problem, requestID: context.state.requestID, headers: error.headers).response
        }
    }

    /// How a request is authenticated and counted against its rate limit: one of three paths,
    /// chosen per route and request.
    enum Admission: Equatable {
        /// Most requests: authenticated first, counted in the script that writes the pending
        /// operation and sends the command (one round trip for both; a refused request sends nothing).
        case countedAtSend
        /// A POST with an Idempotency-Key: authenticated and counted before the key is claimed, so a
        /// refused request claims nothing.
        case countedFirst
        /// The OAuth token endpoint: its `Authorization` holds the client's credentials, which the
        /// auth worker checks with the body; counted first, by IP, with no principal.
        case tokenEndpoint

        init(route: GatewayRoute, method: HTTPRequest.Method, idempotencyKey: String?) {
            if route.oauthTokenEndpoint {
                self = .tokenEndpoint
            } else if method == .post, idempotencyKey != nil {
                self = .countedFirst
            } else {
                self = .countedAtSend
            }
        }
    }

    /// The verified principal (nil without a credential) and the rate-limit headers known so far.
    private func admit(
        _ request: Request, _ admission: Admission, route: GatewayRoute, ip: String, context: GatewayContext
    ) async throws(GatewayError) -> (Principal?, HTTPFields) {
        let required = route.access != .public
        switch admission {
        case .countedAtSend:
            return (try await authenticate(request, context: context, rateClass: route.rateClass, required: required, ip: ip), [:])
        case .countedFirst:
            return try await admit(request, context: context, rateClass: route.rateClass, required: required, ip: ip)
        case .tokenEndpoint:
            return (nil, try await rateLimit(route.rateClass, principal: nil, revocation: nil, ip: ip))
        }
    }

    private func handleCommand(_ route: GatewayRoute, _ incoming: Request, context: GatewayContext) async throws
        -> Response
    {
        var request = incoming
        context.state.route = route.label
        let ip = clientIP(request, context: context)
        let idempotencyKey = request.headers[GatewayHeaders.idempotencyKey]
        let admission = Admission(route: route, method: request.method, idempotencyKey: idempotencyKey)
        let (verified, admittedHeaders) = try await admit(request, admission, route: route, ip: ip, context: context)
        var headers = admittedHeaders
        // A public route's tenant: `Billing-Tenant` (default `default`); a credential's own tenant wins.
        let anonymousTenant = verified == nil ? try Self.requestedTenant(request) : TenantID.defaultTenant
        let principal = verified ?? Principal(subject: Self.anonymousSubject, role: .customer, tenant: anonymousTenant)
        let (payload, bodyBytes, readRequest): (JSONValue, [UInt8], Request)
        do {
            (payload, bodyBytes, readRequest) = try await input(request, route: route, verified: verified, ip: ip, context: context)
        } catch let refusal as GatewayError where admission == .countedAtSend {
            // Refused before anything was sent: still counted (a flood of bad requests meets a 429 too).
            var refused = refusal
            refused.headers.append(
                contentsOf: try await countingRefusal(route.rateClass, ip: ip, context: context) { () async throws(GatewayError) in
                    try await rateLimit(route.rateClass, principal: verified, revocation: context.state.revocation, ip: ip)
                })
            throw refused
        }
        request = readRequest

        // Idempotency (POST only).
        var idempotencyRecordKey: String?
        var commandID = MessageID.make()
        if request.method == .post, let key = idempotencyKey {
            guard !key.isEmpty, key.count <= 255 else {
                throw GatewayError.badRequest("Idempotency-Key must be 1 to 255 characters", param: "Idempotency-Key")
            }
            let scope = verified ?? Principal(subject: "\(Self.anonymousSubject):\(ip)", role: .customer, tenant: anonymousTenant)
            let recordKey = idempotency.key(scope, key)
            let fingerprint = IdempotencyStore.fingerprint(
                method: request.method.rawValue, path: request.uri.description, body: bodyBytes)
            commandID = IdempotencyStore.operationID(principal: scope, key: key, fingerprint: fingerprint)
            let claim: IdempotencyStore.Claim
            do {
                claim = try await idempotency.claim(recordKey, fingerprint: fingerprint, operationID: commandID)
            } catch {
                throw GatewayError.unavailable("cannot check the Idempotency-Key now; retry shortly")
            }
            switch claim {
            case .claimed: idempotencyRecordKey = recordKey
            case .mismatch:
                throw GatewayError(
                    status: 422, code: "idempotency_key_reused",
                    title: "Idempotency-Key reused", detail: "this Idempotency-Key was used with another request body",
                    param: "Idempotency-Key")
            case .inFlight:
                throw GatewayError(
                    status: 409, code: "idempotency_key_in_use", title: "Request in progress",
                    detail: "a request with this Idempotency-Key is still running; retry later", headers: [.retryAfter: "1"])
            case .replay(let record):
                return Self.replay(record, requestID: context.state.requestID, headers: headers)
            }
        }

        // Send and wait.
        let preference = Preference(request.headers[GatewayHeaders.prefer], maxWait: configuration.maxWait)
        let wait = preference.respondAsync ? .zero : (preference.wait ?? configuration.defaultWait)
        let now = Date()
        // Nobody waits on `respond-async`: the worker then only stores the operation's state. A client
        // command carries no deadline: once accepted (202, or still waiting) it runs however long the
        // backlog, since an outage must delay accepted work, never turn it into failures (DESIGN §3).
        let envelope = Envelope(
            id: commandID, type: route.type, correlationID: context.state.requestID,
            replyTo: preference.respondAsync ? "" : replies.stream,
            principal: principal, idempotencyKey: idempotencyKey,
            payload: payload, createdAt: now, respondAsync: preference.respondAsync ? true : nil)
        let answer: Answer
        var stored: Answer?
        if !preference.respondAsync { replies.expect(envelope.id) }
        do {
            if admission == .countedAtSend {
                headers = try await admitAndSend(envelope, route: route, principal: verified, ip: ip, context: context)
            } else {
                // Both at once: the pending record is SET NX, so a worker's result written first is kept.
                async let pending: Void = writePending(envelope)
                try await bus.send(envelope, to: route.service)
                try await pending
            }
        } catch {
            replies.forget(envelope.id)
            if let idempotencyRecordKey { await idempotency.release(idempotencyRecordKey) }
            if let refusal = error as? GatewayError { throw refusal }
            logger.error("command not sent", metadata: ["request_id": "\(context.state.requestID)", "error": "\(error)"])
            throw GatewayError.unavailable("the command could not be queued; nothing was done, retry shortly")
        }
        if preference.respondAsync {
            headers[GatewayHeaders.preferenceApplied] = "respond-async"
            // The worker raises `operation.completed` itself (the envelope says so): no marker needed.
            answer = accepted(envelope.id, headers: headers)
        } else if let reply = await replies.wait(for: envelope.id, timeout: wait) {
            answer = Self.answer(for: reply, requestID: context.state.requestID, headers: headers, route: route)
            if reply.secretFields != nil {
                // Secrets are shown once: a replay of this key gets the reply without them.
                stored = Self.answer(for: reply.redacted(), requestID: context.state.requestID, headers: headers, route: route)
            }
        } else {
            metrics.replyTimedOut()
            context.state.replyTimedOut = true
            answer = accepted(envelope.id, headers: headers)
            await markAnsweredAsync(envelope)
        }
        if let idempotencyRecordKey {
            await remember(
                stored ?? answer, operationID: envelope.id, key: idempotencyRecordKey, request: request, bodyBytes: bodyBytes)
        }
        return answer.response
    }


    /// The command's payload (`path`, `query`, `body`), checked: the principal may call the route,
    /// the query and body meet the schema, no card number anywhere. Also the body's bytes, and the
    /// request with its body read.
    private func input(_ request: Request, route: GatewayRoute, verified: Principal?, ip: String, context: GatewayContext)
        async throws -> (JSONValue, [UInt8], Request)
    {
        if let verified, !route.permits(verified) {
            throw GatewayError.forbidden("the \(verified.role.rawValue) role, with its scopes, may not call \(route.label)")
        }
        var pathParameters: [String: JSONValue] = [:]
        for (key, value) in context.parameters { pathParameters[String(key)] = .string(String(value)) }
        let query = try validatedQuery(request, route: route)
        if let field = CardNumberGuard.firstCardNumber(in: .object(query.merging(pathParameters) { a, _ in a })) {
            throw GatewayError(
                status: 422, code: "card_number_refused", title: "Card numbers are not accepted",
                detail: "a card number was found in '\(field)'; card numbers are never accepted or stored", param: field)
        }
        var request = request
        let (bodyBytes, body) = try await readBody(&request, route: route)
        var members: [String: JSONValue] = ["path": .object(pathParameters), "query": .object(query), "body": body]
        // Sign-in routes: the worker throttles failures per client IP as well as per account.
        if route.rateClass == .auth { members["client"] = .object(["ip": .string(ip)]) }
        return (.object(members), bodyBytes, request)
    }

    static func seconds(_ d: Duration) -> TimeInterval {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    // MARK: Pieces

    private func validatedQuery(_ request: Request, route: GatewayRoute) throws(GatewayError) -> [String: JSONValue] {
        // Keys arrive as sent (`created%5Bgte%5D` for `created[gte]`); values are already decoded.
        let pairs: [(String, String)] = request.uri.queryParameters.map {
            (String($0.key).removingPercentEncoding ?? String($0.key), String($0.value))
        }
        if let openAPI, openAPI.operation(method: route.method.rawValue, path: route.path) != nil {
            return try openAPI.validateQuery(pairs, method: route.method.rawValue, path: route.path)
        }
        var result: [String: JSONValue] = [:]
        for (k, v) in pairs { result[k] = .string(v) }
        return result
    }

    /// Reads the body against the size limit, checks its type, parses and validates it.
    private func readBody(_ request: inout Request, route: GatewayRoute) async throws -> ([UInt8], JSONValue) {
        let takesBody = [.post, .put, .patch].contains(request.method)
        guard takesBody else { return ([], .object([:])) }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > configuration.bodyLimit {
            throw Self.tooLarge(configuration.bodyLimit)
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: configuration.bodyLimit)
        } catch is NIOTooManyBytesError {
            throw Self.tooLarge(configuration.bodyLimit)
        }
        let bytes = Array(buffer.readableBytesView)
        // No body reads as `{}`, which still meets the schema: a route with required fields names the first one missing.
        var body: JSONValue
        if route.oauthTokenEndpoint {
            body = try OAuthError.tokenRequestBody(
                bytes, contentType: request.headers[.contentType], authorization: request.headers[.authorization])
        } else {
            body = try bytes.isEmpty ? .object([:]) : Self.parseJSONObject(bytes, contentType: request.headers[.contentType])
        }
        // Before the schema: a card number must be refused even where the schema would also refuse it.
        if let field = CardNumberGuard.firstCardNumber(in: body) {
            throw GatewayError(
                status: 422, code: "card_number_refused", title: "Card numbers are not accepted",
                detail: "a card number was found in '\(field)'; card numbers are never accepted or stored: "
                    + "send a payment method token such as pm_card_visa", param: field)
        }
        if let schema = route.requestSchema, let openAPI {
            try openAPI.validate(body, schemaNamed: schema)
        }
        return (bytes, body)
    }

    /// A non-empty body: JSON (415 otherwise), well formed (400 saying where otherwise), and an object.
    static func parseJSONObject(_ bytes: [UInt8], contentType: String?) throws(GatewayError) -> JSONValue {
        guard let mediaType = contentType.flatMap({ MediaType(from: $0) }), mediaType.isType(.applicationJson) else {
            throw GatewayError(
                status: 415, code: "unsupported_media_type", title: "Unsupported media type",
                detail: "send the body as application/json (got \(contentType ?? "no Content-Type"))")
        }
        let body: JSONValue
        do {
            // The fast reader first; JSONDecoder decides (and words the error) when it gives up.
            body = try JSONReader.value(bytes) ?? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw GatewayError(
                status: 400, code: "malformed_json", title: "Malformed JSON",
                detail: "the body is not valid JSON: \(describeJSONError(in: bytes))")
        }
        guard case .object = body else {
            throw GatewayError(status: 400, code: "invalid_body", title: "Invalid body", detail: "the body must be a JSON object")
        }
        return body
    }

    static func tooLarge(_ limit: Int) -> GatewayError {
        GatewayError(
            status: 413, code: "body_too_large", title: "Payload too large",
            detail: "the request body exceeds \(limit) bytes")
    }

    /// Where the JSON is broken: Foundation's JSONSerialization names the character offset
    /// ("Invalid value around character 12."); we add the line and column.
    static func describeJSONError(in bytes: [UInt8]) -> String {
        do {
            _ = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
            return "the body is not valid JSON"
        } catch {
            let debug = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "the body is not valid JSON"
            guard let range = debug.range(of: #"character (\d+)"#, options: .regularExpression),
                let offset = Int(debug[range].split(separator: " ")[1])
            else { return debug }
            var line = 1
            var column = 1
            for byte in bytes.prefix(offset) {
                if byte == UInt8(ascii: "\n") {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
            }
            return "\(debug.trimmingCharacters(in: CharacterSet(charactersIn: "."))) (line \(line), column \(column))"
        }
    }

    /// Counts the request against its tier and, when it is allowed, writes its pending operation and
    /// sends its command, in one script (one round trip): a refused request sends nothing. A revoked
    /// credential's 401 is counted against the client IP, as any refused credential.
    private func admitAndSend(
        _ envelope: Envelope, route: GatewayRoute, principal: Principal?, ip: String, context: GatewayContext
    ) async throws -> HTTPFields {
        let (tier, identity, limit) = bucket(route.rateClass, principal: principal, ip: ip)
        let entry = try bus.commandEntry(envelope, to: route.service)
        let pending = (
            key: OperationStore.key(configuration.names, envelope.id), json: Self.pendingRecord(envelope).json,
            ttlMilliseconds: Int64(IdempotencyStore.milliseconds(configuration.operationTTL))
        )
        let revocation = principal == nil ? nil : context.state.revocation
        return try await countingRefusal(route.rateClass, ip: ip, context: context) { () async throws(GatewayError) in
            let decision: RateLimitDecision
            do {
                decision = try await rateLimiter.checkAndAppend(
                    tier: tier, identity: identity, limit: limit, revocation: revocation, pending: pending, entry: entry)
            } catch {
                logger.error("command not sent", metadata: ["request_id": "\(context.state.requestID)", "error": "\(error)"])
                throw route.rateClass == .auth
                    ? .unavailable("rate limiting is unavailable; sign-in is paused for safety")
                    : .unavailable("the command could not be queued; nothing was done, retry shortly")
            }
            return try headers(for: decision, tier: tier, limit: limit, revocation: revocation)
        }
    }

    static func pendingRecord(_ envelope: Envelope) -> PendingOperation {
        PendingOperation(
            id: envelope.id, type: envelope.type, subject: envelope.principal.subject, tenant: envelope.principal.tenant,
            createdAt: envelope.createdAt)
    }

    /// The pending operation record, written before the command is sent (SET NX: a fast worker's
    /// completed record is never overwritten).
    private func writePending(_ envelope: Envelope) async throws {
        let record = Self.pendingRecord(envelope)
        let expiry = SET.Expiry.milliseconds(IdempotencyStore.milliseconds(configuration.operationTTL))
        async let pending = redis.send(
            SET(
                OperationStore.key(configuration.names, envelope.id), value: RedisArgument(bytes: record.json),
                expiry: expiry, condition: .ifNotExists))
        if MessageID.timestamp(of: envelope.id) == nil {
            // An Idempotency-Key's command ID carries no time, and the worker's record replaces this
            // one: keep the creation time beside it (NX: a retry keeps the first request's time).
            _ = try await redis.send(
                SET(
                    OperationStore.createdAtKey(configuration.names, envelope.id),
                    value: RedisArgument(MessageCoding.formatTimestamp(envelope.createdAt)), expiry: expiry,
                    condition: .ifNotExists))
        }
        _ = try await pending
    }

    // Marks an operation answered with 202 and returns its state: if the worker stored the result
    // already, it missed the mark, so the gateway keeps the state the full day (the worker kept it
    // minutes, as for an answer given at once) and raises `operation.completed` itself.
    // KEYS: operation key, async marker. ARGV: marker TTL ms (the operation's TTL).
    static let markAsync = RedisScript(
        """
        redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
        local state = redis.call('GET', KEYS[1])
        if state then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        return state
        """)

    /// See ``OperationCompleted``: one side of the mark-or-raise handshake with the worker.
    private func markAnsweredAsync(_ envelope: Envelope) async {
        do {
            let state = try await redis.eval(
                Self.markAsync,
                keys: [
                    OperationStore.key(configuration.names, envelope.id),
                    OperationCompleted.asyncMarkerKey(configuration.names, envelope.id),
                ],
                arguments: [RedisArgument(IdempotencyStore.milliseconds(configuration.operationTTL))])
            guard case .bulkString(let bytes) = state,
                let record = try? MessageCoding.decode(OperationRecord.self, from: Data(bytes))
            else { return }
            try await bus.publish(
                OperationCompleted.event(
                    for: record.reply, subject: record.subject, tenant: record.tenant, customerID: record.customerID,
                    createdAt: envelope.createdAt))
        } catch {
            logger.warning(
                "operation not marked as answered asynchronously; operation.completed may not be raised",
                metadata: ["operation": "\(envelope.id)", "error": "\(error)"])
        }
    }

    private func accepted(_ id: String, headers: HTTPFields) -> Answer {
        var headers = headers
        headers[.location] = "/v1/operations/\(id)"
        headers[.retryAfter] = String(configuration.retryAfterSeconds)
        return Answer.json(
            .object(["id": .string(id), "object": .string("operation"), "status": .string("pending")]), status: 202,
            headers: headers)
    }

    /// A worker's reply as the HTTP answer.
    static func answer(for reply: Reply, requestID: String, headers: HTTPFields, route: GatewayRoute? = nil) -> Answer {
        if route?.oauthTokenEndpoint == true, reply.status == .failed, let problem = reply.error,
            isFinalStatus(problem.status)
        {
            return OAuthError.answer(for: problem, requestID: requestID, headers: headers)
        }
        switch reply.status {
        case .succeeded:
            guard isFinalStatus(reply.httpStatus) else {
                return Answer.problem(badWorkerStatus(reply.httpStatus), requestID: requestID, headers: headers)
            }
            if reply.httpStatus == 204 { return Answer(status: 204, headers: headers, body: nil) }
            return Answer.json(reply.result ?? .object([:]), status: reply.httpStatus, headers: headers)
        case .failed:
            let problem =
                reply.error
                ?? Problem(status: reply.httpStatus, code: "failed", title: "Command failed", detail: "the command failed")
            guard isFinalStatus(problem.status) else {
                return Answer.problem(badWorkerStatus(problem.status), requestID: requestID, headers: headers)
            }
            return Answer.problem(problem, requestID: requestID, headers: headers)
        }
    }

    /// Whether a status a worker (or a stored record) gives can end an HTTP exchange. 1xx are interim
    /// responses and anything outside 100...599 is no status at all (HTTPTypes traps above 999).
    static func isFinalStatus(_ code: Int) -> Bool { (200...599).contains(code) }

    /// What the client gets instead of a status that is not one: the worker misbehaved, so a 502.
    static func badWorkerStatus(_ code: Int) -> Problem {
        Problem(
            status: 502, code: "bad_worker_reply", title: "Bad gateway",
            detail: "the service answered with HTTP status \(code), which is not a valid response status")
    }

    private func remember(_ answer: Answer, operationID: String, key: String, request: Request, bodyBytes: [UInt8])
        async
    {
        let record = IdempotencyStore.IdempotencyRecord(
            fingerprint: IdempotencyStore.fingerprint(method: request.method.rawValue, path: request.uri.description, body: bodyBytes),
            operationID: operationID, done: true, status: answer.status, contentType: answer.headers[.contentType],
            location: answer.headers[.location], retryAfter: answer.headers[.retryAfter],
            body: answer.body.map { String(buffer: $0) })
        do {
            try await idempotency.complete(key, record: record)
        } catch {
            logger.warning("idempotency record not stored", metadata: ["error": "\(error)"])
        }
    }

    static func replay(_ record: IdempotencyStore.IdempotencyRecord, requestID: String, headers: HTTPFields) -> Response {
        var headers = headers
        headers[GatewayHeaders.idempotentReplayed] = "true"
        let status = record.status ?? 200
        guard isFinalStatus(status) else {
            return Answer.problem(badWorkerStatus(status), requestID: requestID, headers: headers).response
        }
        if let contentType = record.contentType { headers[.contentType] = contentType }
        if let location = record.location { headers[.location] = location }
        if let retryAfter = record.retryAfter { headers[.retryAfter] = retryAfter }
        return Response(
            status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: record.body ?? "")))
    }
}

/// `Prefer: respond-async` and `Prefer: wait=N` (RFC 7240), N capped at `maxWait`.
///
/// A `wait` that is not a finite number ≥ 0 (`wait=abc`, `wait=-1`, `wait=inf`, `wait=nan`) is ignored,
/// as RFC 7240 §2 asks of preferences a server does not understand: the request waits the default time.
struct Preference {
    var respondAsync = false
    var wait: Duration?

    init(_ header: String?, maxWait: Duration) {
        guard let header else { return }
        for token in header.split(separator: ",") {
            let item = token.trimmingCharacters(in: .whitespaces).lowercased()
            if item == "respond-async" { respondAsync = true }
            if item.hasPrefix("wait="), let seconds = Double(item.dropFirst(5)), seconds.isFinite, seconds >= 0 {
                // Capped before converting, so a huge N never overflows the milliseconds.
                let capped = min(seconds, CommandEndpoint.seconds(maxWait))
                wait = .milliseconds(Int64((capped * 1000).rounded(.down)))
            }
        }
    }
}

