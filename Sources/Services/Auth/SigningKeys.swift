import Crypto
import Foundation
import JWTKit
import MessageBus
import Mongo
import Redis
import Synchronization

/// One access-token signing key as stored: the private half sealed with AES-GCM under the key
/// encryption key from configuration, the public half as JWK coordinates.
struct StoredSigningKey: Codable, Sendable {
    var id: String
    var algorithm: String
    /// AES-GCM combined box (nonce, ciphertext, tag), base64, of the PEM private key.
    var sealedPrivateKey: String
    var x: String
    var y: String
    /// `active` keys sign (the newest one); `retired` keys only verify, until `verifyUntil`.
    var status: String
    var createdAt: Date
    var retiredAt: Date?
    var verifyUntil: Date?
}

/// The auth service's signing keys: created on first start, sealed at rest, published to Redis as
/// the JWKS the gateway verifies against, rotated by `billing admin rotate-keys`.
public final class SigningKeyStore: Sendable {
    public static let collection = "signing_keys"

    let database: MongoDatabase
    let redis: RedisClient
    let names: StreamNames
    let encryptionKey: SymmetricKey
    /// How long a retired key stays verifiable: the access-token lifetime plus the time workers may
    /// still sign with it before they reload (``reloadInterval``) and a margin for clock skew.
    let retiredKeyLifetime: TimeInterval
    let reloadInterval: TimeInterval
    private let cache = Mutex<(kid: String, keys: JWTKeyCollection, loadedAt: Date)?>(nil)

    public init(
        database: MongoDatabase, redis: RedisClient, names: StreamNames, encryptionKey: SymmetricKey,
        accessTokenTTL: TimeInterval, reloadInterval: TimeInterval = 30
    ) {
        self.database = database
        self.redis = redis
        self.names = names
        self.encryptionKey = encryptionKey
        self.reloadInterval = reloadInterval
        self.retiredKeyLifetime = accessTokenTTL + reloadInterval + 60
    }

    /// The Redis key of the published JWKS (what the gateway's `Authenticator` reads).
    public var jwksKey: String { "\(names.prefix):auth:jwks" }

    var keys: MongoCollection<StoredSigningKey> { database.collection(Self.collection, as: StoredSigningKey.self) }

    /// The newest active key (as a jwt-kit collection holding it), creating one when there is none;
    /// cached for ``reloadInterval``, so a rotation reaches every worker within it.
    func signingKey(now: Date) async throws -> (kid: String, keys: JWTKeyCollection) {
        if let cached = cache.withLock({ $0 }), now.timeIntervalSince(cached.loadedAt) < reloadInterval,
            now >= cached.loadedAt
        {
            return (cached.kid, cached.keys)
        }
        var active = try await activeKey()
        if active == nil {
            _ = try await createKey(now: now)
            try await publishJWKS(now: now)
            active = try await activeKey()
        }
        guard let active else { throw SigningKeyError(message: "no active signing key after creating one") }
        let collection = JWTKeyCollection()
        await collection.add(ecdsa: try unseal(active), kid: JWKIdentifier(string: active.id))
        cache.withLock { $0 = (active.id, collection, now) }
        return (active.id, collection)
    }

    private func activeKey() async throws -> StoredSigningKey? {
        try await keys.find(["status": "active"], options: FindOptions(sort: ["created_at": -1, "_id": -1], limit: 1)).first
    }

    /// Makes sure a key exists and the JWKS in Redis is current (worker start, and periodically).
    public func ensureKeyAndPublish(now: Date) async throws {
        _ = try await signingKey(now: now)
        try await publishJWKS(now: now)
    }

    /// Adds a new signing key and retires the others: they stay in the JWKS until the last token
    /// they may have signed has expired. Returns the new `kid`.
    @discardableResult
    public func rotate(now: Date) async throws -> String {
        let previous = try await keys.find(["status": "active"])
        let kid = try await createKey(now: now)
        for key in previous {
            _ = try await keys.updateOne(
                ["_id": .string(key.id), "status": "active"],
                update: [
                    "$set": [
                        "status": "retired", "retired_at": .datetime(now),
                        "verify_until": .datetime(now.addingTimeInterval(retiredKeyLifetime)),
                    ]
                ])
        }
        cache.withLock { $0 = nil }
        try await publishJWKS(now: now)
        return kid
    }

    private func createKey(now: Date) async throws -> String {
        let key = ES256PrivateKey()
        guard let parameters = key.publicKey.parameters else {
            throw SigningKeyError(message: "the new key has no public parameters")
        }
        let kid = "key_" + MessageID.make(at: now).replacingOccurrences(of: "-", with: "")
        let sealed = try AES.GCM.seal(Data(key.pemRepresentation.utf8), using: encryptionKey)
        guard let combined = sealed.combined else { throw SigningKeyError(message: "AES-GCM gave no combined box") }
        _ = try await keys.insertOne(
            StoredSigningKey(
                id: kid, algorithm: "ES256", sealedPrivateKey: combined.base64EncodedString(), x: parameters.x,
                y: parameters.y, status: "active", createdAt: now))
        return kid
    }

    private func unseal(_ stored: StoredSigningKey) throws -> ES256PrivateKey {
        guard let data = Data(base64Encoded: stored.sealedPrivateKey) else {
            throw SigningKeyError(message: "signing key \(stored.id) is not sealed base64")
        }
        let pem: Data
        do {
            pem = try AES.GCM.open(AES.GCM.SealedBox(combined: data), using: encryptionKey)
        } catch {
            throw SigningKeyError(
                message: "signing key \(stored.id) cannot be opened: BILLING_AUTH_KEY_ENCRYPTION_KEY differs from the one it was sealed with")
        }
        return try ES256PrivateKey(pem: String(decoding: pem, as: UTF8.self))
    }

    /// The keys that verify now (active, and retired ones still in their window) as a JWKS document.
    public func jwks(now: Date) async throws -> Data {
        let all = try await keys.find([:], options: FindOptions(sort: ["created_at": -1]))
        let valid = all.filter { $0.status == "active" || ($0.verifyUntil.map { $0 > now } ?? false) }
        let document = JWKS(
            keys: valid.map {
                JWK.ecdsa(.es256, identifier: JWKIdentifier(string: $0.id), x: $0.x, y: $0.y, curve: .p256)
            })
        return try JSONEncoder().encode(document)
    }

    /// Writes the JWKS where the gateway reads it.
    public func publishJWKS(now: Date) async throws {
        let data = try await jwks(now: now)
        _ = try await redis.send(SET(jwksKey, value: RedisArgument(bytes: Array(data))))
    }
}

struct SigningKeyError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
