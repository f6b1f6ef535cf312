import Contracts
import Foundation
import MessageBus
import Mongo
import Redis
import ServiceKit
import WorkerRuntime

/// Third-party API keys: shown once, stored hashed, published to Redis for the gateway (which
/// looks a key up by the SHA-256 of its value) and withdrawn on revocation.
extension AuthService {
    func createAPIKey(_ context: CommandContext, _ draft: APIKeyDraft) throws -> Answer<APIKey> {
        let (name, scopes, mode) = (draft.name.value, draft.scopes?.values ?? [], (draft.mode ?? .live).rawValue)
        let now = context.now
        let key = "sk_\(mode)_" + Secrets.token()
        let record = APIKeyRecord(
            id: ResourceID.make("key", at: now), tenantID: context.envelope.principal.tenant, name: name,
            prefix: String(key.prefix(12)), hash: Secrets.sha256Hex(key), scopes: scopes, mode: mode, status: "active",
            createdAt: now)
        _ = try context.transaction.collection(AuthCollections.apiKeys, as: APIKeyRecord.self).insertOne(record)
        context.emit(.apiKeyCreated, payload: .object(["id": .string(record.id), "prefix": .string(record.prefix)]))
        let publisher = APIKeyPublisher(names: configuration.names)
        context.afterCommit { redis in try await publisher.publish(record, redis: redis) }
        return Answer(status: 201, record.resource(lastUsed: nil, key: key))
    }

    func listAPIKeys(_ envelope: Envelope, _ context: ReadContext) async throws -> Answer<Page<APIKey>> {
        let records = try await context.database.collection(AuthCollections.apiKeys, as: APIKeyRecord.self).find(
            ["tenant_id": .string(envelope.principal.tenant), "status": "active"],
            options: FindOptions(sort: ["created_at": -1], limit: 100))
        let lastUsed = try await context.redis.send(HGETALL(APIKeyPublisher(names: configuration.names).lastUsedKey))
        return Answer(Page(records.map { $0.resource(lastUsed: lastUsed[$0.id]) }, hasMore: false))
    }

    func revokeAPIKey(_ context: CommandContext, _ path: IDPath) throws -> Answer<NoContent> {
        let id = try ResourceID.path(path.id, prefix: "key", what: "API key")
        let keys = context.transaction.collection(AuthCollections.apiKeys, as: APIKeyRecord.self)
        guard
            let record = try keys.findOne([
                "_id": .string(id), "tenant_id": .string(context.envelope.principal.tenant), "status": "active",
            ])
        else { throw Problem.notFound("API key \(id)") }
        _ = try keys.updateOne(
            ["_id": .string(id), "status": "active"],
            update: ["$set": ["status": "revoked", "revoked_at": .datetime(context.now)]])
        context.emit(.apiKeyRevoked, payload: .object(["id": .string(id)]))
        let publisher = APIKeyPublisher(names: configuration.names)
        context.afterCommit { redis in try await publisher.withdraw(record, redis: redis) }
        return .noContent
    }
}

extension APIKeyRecord {
    /// The API representation (schemas/openapi.yaml `ApiKey`); the key itself only when just created.
    func resource(lastUsed: String?, key: String? = nil) -> APIKey {
        APIKey(id: id, name: name, prefix: prefix, mode: mode, scopes: scopes, createdAt: createdAt, lastUsedAt: lastUsed, key: key)
    }
}

/// The gateway's view of API keys in Redis: `<prefix>:auth:apikey:<sha256 hex>` → the principal.
/// A revoked key leaves a tombstone beside it (`{<key>}:revoked`, in the key's hash slot), and a
/// publish checks it in the same script: a publisher that read the key as active before the
/// revocation committed (the minute republish) cannot bring it back.
struct APIKeyPublisher: Sendable {
    let names: StreamNames

    var lastUsedKey: String { "\(names.prefix):auth:apikey-last-used" }
    func key(_ hash: String) -> String { "\(names.prefix):auth:apikey:\(hash)" }
    func tombstone(_ hash: String) -> String { "{\(key(hash))}:revoked" }

    /// KEYS: the key, its tombstone. ARGV: the principal's JSON.
    static let publishScript = RedisScript(
        """
        if redis.call('EXISTS', KEYS[2]) == 1 then
          redis.call('DEL', KEYS[1])
          return 0
        end
        redis.call('SET', KEYS[1], ARGV[1])
        return 1
        """)

    /// KEYS: the key, its tombstone.
    static let withdrawScript = RedisScript(
        """
        redis.call('SET', KEYS[2], '1')
        return redis.call('DEL', KEYS[1])
        """)

    func publish(_ record: APIKeyRecord, redis: RedisClient) async throws {
        let principal: JSONValue = .object([
            "id": .string(record.id), "subject": .string(record.id), "role": .string("service"),
            "scopes": .array(record.scopes.map(JSONValue.string)), "tenant": .string(record.tenantID),
        ])
        _ = try await redis.eval(
            Self.publishScript, keys: [key(record.hash), tombstone(record.hash)],
            arguments: [RedisArgument(bytes: Array(try MessageCoding.encode(principal)))])
    }

    func withdraw(_ record: APIKeyRecord, redis: RedisClient) async throws {
        _ = try await redis.eval(Self.withdrawScript, keys: [key(record.hash), tombstone(record.hash)])
    }
}
