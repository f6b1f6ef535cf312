import Foundation
import MessageBus
import WorkerRuntime
import Redis

/// A Redis read-through cache of rendered objects, one key per object
/// (`<prefix>:cache:<kind>:<tenant>:<id>`), with a short TTL.
///
/// Entries carry the document's `version`, and a write leaves a tombstone at its new version
/// instead of only deleting the key: a read that fetched the old document before the write
/// committed cannot put it back afterwards (its version is older than the tombstone's), and
/// after-commit invalidations arriving out of order cannot resurrect an older state. Redis errors
/// never fail a request: the cache is skipped.
public struct ReadCache: Sendable {
    public let prefix: String
    public let kind: String
    public let ttl: Duration

    public init(prefix: String, kind: String, ttl: Duration = .seconds(30)) {
        self.prefix = prefix
        self.kind = kind
        self.ttl = ttl
    }

    public func key(tenant: String, id: String) -> String { "\(prefix):cache:\(kind):\(tenant):\(id)" }

    /// The cached JSON, or nil on a miss, a tombstone or a Redis error.
    public func get(_ redis: RedisClient, tenant: String, id: String) async -> JSONValue? {
        guard let stored = try? await redis.send(GET(key(tenant: tenant, id: id))),
            let space = stored.firstIndex(of: UInt8(ascii: " ")), space + 1 < stored.count
        else { return nil }
        return try? JSONDecoder().decode(JSONValue.self, from: Data(stored[(space + 1)...]))
    }

    /// Caches `value` read at `version`, unless something at least as new is already there.
    public func fill(_ redis: RedisClient, tenant: String, id: String, version: Int, value: JSONValue) async {
        let json = String(decoding: JSONWriter.data(value), as: UTF8.self)
        _ = try? await store(redis, key(tenant: tenant, id: id), version: version, json: json)
    }

    /// After a write committed `version`: drops the cached object, leaving a tombstone so older reads
    /// in flight cannot fill it again. Call it from `CommandContext.afterCommit`.
    public func invalidate(_ redis: RedisClient, tenant: String, id: String, version: Int) async throws {
        try await store(redis, key(tenant: tenant, id: id), version: version, json: "")
    }

    // KEYS[1]: the key. ARGV: version, JSON ("" for a tombstone), TTL in ms.
    // Stored as "<version> <json>". Written when the key is absent, older, or a tombstone of the
    // same version being filled with that version's data.
    static let script = RedisScript(
        """
        local current = redis.call('GET', KEYS[1])
        local version = tonumber(ARGV[1])
        if current then
          local space = string.find(current, ' ', 1, true)
          local held = tonumber(string.sub(current, 1, (space or 1) - 1)) or -1
          local tombstone = space == #current
          if held > version or (held == version and not (tombstone and ARGV[2] ~= '')) then return 0 end
        end
        redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'PX', ARGV[3])
        return 1
        """)

    private func store(_ redis: RedisClient, _ key: String, version: Int, json: String) async throws {
        let ms = ttl.wholeMilliseconds
        _ = try await redis.eval(
            Self.script, keys: [key], arguments: [RedisArgument(version), RedisArgument(json), RedisArgument(max(1, ms))])
    }
}
