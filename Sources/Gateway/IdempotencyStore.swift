import Crypto
import Foundation
import MessageBus
import Redis

/// `Idempotency-Key` records in Redis, scoped to the principal and kept 24 h:
/// `<prefix>:idem:{<tenant>:<subject>}:<sha256(key)>` → JSON ``IdempotencyRecord``.
///
/// A claim lives only `claimTTL` (the longest wait plus margins) until its response is stored: if the
/// gateway dies or cannot store it, the key frees itself within seconds instead of answering 409 for a
/// day, and the retry, with the same command ID, is deduplicated by the worker.
public struct IdempotencyStore: Sendable {
    let redis: RedisClient
    let prefix: String
    /// How long a completed record (the first response) is kept.
    let ttl: Duration
    /// How long an in-flight claim is kept.
    let claimTTL: Duration

    /// What is kept for one key: a fingerprint of the request, and the first response once there is one.
    struct IdempotencyRecord: Codable {
        var fingerprint: String
        var operationID: String
        var done: Bool
        var status: Int?
        var contentType: String?
        var location: String?
        var retryAfter: String?
        var body: String?
    }

    /// What a new request with a key finds.
    enum Claim {
        /// First use: go ahead.
        case claimed
        /// Same key and body, answered before: replay this.
        case replay(IdempotencyRecord)
        /// Same key, other body.
        case mismatch
        /// Same key and body, the first request is still running.
        case inFlight
    }

    func key(_ principal: Principal, _ idempotencyKey: String) -> String {
        "\(prefix):idem:{\(principal.tenant):\(principal.subject)}:\(Self.hex(SHA256.hash(data: Data(idempotencyKey.utf8))))"
    }

    static func hex(_ digest: SHA256.Digest) -> String { Hex.encode(digest) }

    /// The command ID a key stands for: a UUID-shaped (version 8) digest of tenant|subject|key and
    /// the request's fingerprint (method, path with query, body), so a retried request is the same
    /// command and the worker's dedupe agrees with ours, while the same key on another route or
    /// with another body (reused after its record expired, say) is another command and runs.
    static func operationID(principal: Principal, key: String, fingerprint: String) -> String {
        let text = "\(principal.tenant)|\(principal.subject)|\(key)|\(fingerprint)"
        let digest = Array(SHA256.hash(data: Data(text.utf8)).prefix(16))
        var bytes = digest
        bytes[6] = 0x80 | (bytes[6] & 0x0F)  // version 8: custom
        bytes[8] = 0x80 | (bytes[8] & 0x3F)  // RFC 9562 variant
        return MessageID.format(bytes)
    }

    /// Fingerprint of what makes two requests "the same": method, path, query and body.
    static func fingerprint(method: String, path: String, body: [UInt8]) -> String {
        var hasher = SHA256()
        hasher.update(data: Data("\(method) \(path)\n".utf8))
        hasher.update(data: body)
        return hex(hasher.finalize())
    }

    func claim(_ key: String, fingerprint: String, operationID: String) async throws(RedisError) -> Claim {
        let record = IdempotencyRecord(fingerprint: fingerprint, operationID: operationID, done: false)
        let json = (try? MessageCoding.encode(record)) ?? Data()
        let ttlMS = Self.milliseconds(claimTTL)
        if try await redis.send(SET(key, value: RedisArgument(bytes: Array(json)), expiry: .milliseconds(ttlMS), condition: .ifNotExists)) {
            return .claimed
        }
        guard let stored = try await redis.send(GET(key)),
            let existing = try? MessageCoding.decode(IdempotencyRecord.self, from: Data(stored))
        else {
            // Expired between the two calls: try once more.
            let again = try await redis.send(
                SET(key, value: RedisArgument(bytes: Array(json)), expiry: .milliseconds(ttlMS), condition: .ifNotExists))
            return again ? .claimed : .inFlight
        }
        if existing.fingerprint != fingerprint { return .mismatch }
        return existing.done ? .replay(existing) : .inFlight
    }

    /// Stores the first response for later replays, for the full `ttl` from now.
    func complete(_ key: String, record: IdempotencyRecord) async throws(RedisError) {
        let json = (try? MessageCoding.encode(record)) ?? Data()
        _ = try await redis.execute([
            "SET", RedisArgument(key), RedisArgument(bytes: Array(json)), "XX", "PX", RedisArgument(Self.milliseconds(ttl)),
        ])
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.wholeMilliseconds)
    }

    /// Frees a key whose request failed before reaching a worker, so a retry can run.
    func release(_ key: String) async {
        _ = try? await redis.send(DEL(key))
    }
}
