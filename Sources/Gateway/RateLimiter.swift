// While Redis is down (unreachable, or not answering within the client's timeouts), per route class.
// Every refusal is still problem+json with `request_id`, and every answer has `Request-Id`, the
// security headers and `Cache-Control: no-store`; a 503 carries `Retry-After: 1`. No command is ever
// sent without Redis.
//
// - auth class (POST /v1/auth/signup, /v1/auth/login, /v1/auth/refresh, /v1/auth/verify-email,
//   /v1/oauth/token): the limiter fails closed, 503 `unavailable` ("sign-in is paused for safety"):
//   password and token guessing is never unthrottled.
// - standard class, routes that need a principal: 503 `unavailable`, because verifying the credential
//   needs Redis (API keys are looked up there; a JWT needs the deny-list, and the JWKS when not cached).
//   A request with no or a malformed credential still gets its 401.
// - standard class, public routes (GET /v1/plans): the limit, the pending operation record and the
//   XADD are one script (``RateLimiter/admitScript``): 503 `unavailable`, nothing done.
// - any POST with an Idempotency-Key: 503 before anything is sent (the key cannot be claimed).
// - the gateway's own routes: GET /v1/operations/{id} and GET /.well-known/jwks.json answer 503;
//   /healthz 200, /readyz 503 (`redis: unreachable`), /metrics and /openapi.json 200.
//
// Fail-open remains only where the limit is checked on its own for a standard route without a token
// (an idempotent POST without credentials, GET /v1/operations/{id} …) while Redis is partly failing
// (the script errors, other commands work): such requests are let through unlimited, not refused.

import Foundation
import Redis

/// A Redis key whose state says a verified credential still stands, checked in the rate limit's
/// round trip: a token's deny-list entry must be absent, an API key's record present.
public enum RevocationCheck: Sendable, Hashable {
    case mustBeAbsent(String)
    case mustExist(String)

    var key: String {
        switch self {
        case .mustBeAbsent(let key), .mustExist(let key): key
        }
    }

    /// The scripts' mode argument: 1 refuses when the key exists, 2 when it does not (0: no check).
    var mode: String {
        switch self {
        case .mustBeAbsent: "1"
        case .mustExist: "2"
        }
    }
}

/// The outcome of one rate-limit check, with what the `RateLimit-*` headers say.
public struct RateLimitDecision: Sendable, Hashable {
    /// The credential was revoked (``RevocationCheck``: a logged-out token, a deleted API key): nothing was counted.
    public var denied = false
    /// The command stream holds its capacity (``StreamRetention/maxEntries``): nothing was counted or sent.
    public var full = false
    public var allowed: Bool
    public var limit: Int
    public var remaining: Int
    /// Seconds until the bucket is full again.
    public var resetSeconds: Int
    /// Seconds until the next request would be allowed (0 when allowed).
    public var retryAfterSeconds: Int
}

/// GCRA rate limits shared by every gateway instance through one atomic Redis script.
///
/// Keys: `<prefix>:rl:{<tier>:<identity>}` holding the theoretical arrival time in ms (Redis's own
/// clock, so instances never disagree on time), expiring when the bucket is full again.
public struct RateLimiter: Sendable {
    let redis: RedisClient
    let prefix: String

    public init(redis: RedisClient, prefix: String) {
        self.redis = redis
        self.prefix = prefix
    }

    // GCRA on KEYS[1] with ARGV[1] (emission interval, ms per request) and ARGV[2] (burst): returns
    // {0, 0, retry_ms, reset_ms} when over the limit; otherwise counts the request and leaves
    // `remaining` and `reset` set for what follows it.
    static let gcra = """
        local interval = tonumber(ARGV[1])
        local burst = tonumber(ARGV[2])
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local tolerance = interval * burst
        local tat = tonumber(redis.call('GET', KEYS[1]) or now)
        if tat < now then tat = now end
        local new_tat = tat + interval
        local allow_at = new_tat - tolerance
        if now < allow_at then
          return {0, 0, math.ceil(allow_at - now), math.ceil(tat - now)}
        end
        redis.call('SET', KEYS[1], new_tat, 'PX', math.max(1, math.ceil(new_tat - now)))
        local remaining = math.floor((tolerance - (new_tat - now)) / interval)
        local reset = math.ceil(new_tat - now)
        """

    // Refuses (-1) a revoked credential before anything is counted: mode ARGV[n] 1 when key KEYS[2]
    // exists (a token's deny-list entry), 2 when it does not (an API key's record); 0 checks nothing.
    static func revocation(mode: Int) -> String {
        """
        local revocation = ARGV[\(mode)]
        if revocation ~= '0' and (redis.call('EXISTS', KEYS[2]) == 1) == (revocation == '1') then return {-1, 0, 0, 0} end
        """
    }

    // KEYS: the bucket, the revocation key (or the bucket again). ARGV: emission interval, burst,
    // revocation mode. Returns {allowed, remaining, retry_ms, reset_ms}, allowed -1 when revoked.
    static let script = RedisScript(
        revocation(mode: 3)
            + "\n" + gcra + "\n"
            + """
        return {1, remaining, 0, reset}
        """)

    // The same check, and when the request is allowed, in the same atomic step: its pending operation
    // record (SET NX: a result stored first is kept) and its command entry (XADD; the stream is
    // trimmed by StreamJanitor, never here). A stream at its capacity refuses the request before
    // it is counted (allowed -2). KEYS: bucket, revocation key (or the bucket again), pending-operation
    // key, command stream. ARGV: interval, burst, revocation mode, pending JSON, pending TTL ms,
    // envelope JSON, type, stream capacity. Returns {allowed, remaining, retry_ms, reset_ms[, entry id]}.
    static let admitScript = RedisScript(
        revocation(mode: 3) + "\n" + """
        if redis.call('XLEN', KEYS[4]) >= tonumber(ARGV[8]) then return {-2, 0, 0, 0} end
        """
            + "\n" + gcra + "\n"
            + """
        redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5], 'NX')
        local id = redis.call('XADD', KEYS[4], '*', 'envelope', ARGV[6], 'type', ARGV[7])
        return {1, remaining, 0, reset, id}
        """)

    func bucket(_ tier: String, _ identity: String) -> String { "\(prefix):rl:{\(tier):\(identity)}" }

    static func interval(_ tier: RateLimitTier) -> String { String(1000.0 / max(tier.rate, 0.001)) }

    static func decision(_ reply: RESPValue, limit tier: RateLimitTier) throws(RedisError) -> RateLimitDecision {
        let values = reply.array?.prefix(4).compactMap(\.int) ?? []
        guard values.count == 4 else { throw RedisError(.unexpectedReply, "rate-limit script returned \(reply)") }
        return RateLimitDecision(
            denied: values[0] == -1, full: values[0] == -2, allowed: values[0] == 1, limit: tier.burst, remaining: max(0, values[1]),
            resetSeconds: Int((Double(values[3]) / 1000).rounded(.up)),
            retryAfterSeconds: Int((Double(values[2]) / 1000).rounded(.up)))
    }

    /// Counts one request against `identity` in `tier` and, when it is allowed, writes its pending
    /// operation record and appends its command entry, all in one script: nothing is sent for a
    /// refused request, and an admitted one costs one round trip.
    public func checkAndAppend(
        tier name: String, identity: String, limit tier: RateLimitTier, revocation: RevocationCheck?,
        pending: (key: String, json: [UInt8], ttlMilliseconds: Int64),
        entry: (stream: String, fields: [(String, RedisArgument)], maxEntries: Int)
    ) async throws(RedisError) -> RateLimitDecision {
        let bucket = bucket(name, identity)
        guard let envelope = entry.fields.first(where: { $0.0 == "envelope" })?.1,
            let type = entry.fields.first(where: { $0.0 == "type" })?.1
        else { throw RedisError(.unexpectedReply, "a command entry needs its envelope and type fields") }
        let reply = try await redis.eval(
            Self.admitScript, keys: [bucket, revocation?.key ?? bucket, pending.key, entry.stream],
            arguments: [
                RedisArgument(Self.interval(tier)), RedisArgument(tier.burst), RedisArgument(revocation?.mode ?? "0"),
                RedisArgument(bytes: pending.json), RedisArgument(pending.ttlMilliseconds), envelope, type,
                RedisArgument(entry.maxEntries),
            ])
        let decision = try Self.decision(reply, limit: tier)
        if decision.allowed, reply.array?.count != 5 {
            throw RedisError(.unexpectedReply, "the admission script returned no entry ID: \(reply)")
        }
        return decision
    }

    /// Counts one request against `identity` in `tier`; with `revocation`, first checks the
    /// credential still stands, in the same round trip.
    public func check(tier name: String, identity: String, limit tier: RateLimitTier, revocation: RevocationCheck? = nil)
        async throws(RedisError) -> RateLimitDecision
    {
        let bucket = bucket(name, identity)
        let reply = try await redis.eval(
            Self.script, keys: [bucket, revocation?.key ?? bucket],
            arguments: [RedisArgument(Self.interval(tier)), RedisArgument(tier.burst), RedisArgument(revocation?.mode ?? "0")])
        return try Self.decision(reply, limit: tier)
    }
}
