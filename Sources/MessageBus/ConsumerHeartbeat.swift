import Redis

/// Whether a consumer group has a live consumer, judged by a heartbeat each process running the
/// group writes on a timer of its own, not by when a consumer last read: a consumer busy with a
/// long batch, or a loaded machine's slow loops, do not look dead, while a process that died stops
/// beating and ages out. One sorted set per group (`<prefix>:alive:<group>`): member the process,
/// score the Redis server's time of its last beat (one clock for every host).
public enum ConsumerHeartbeat {
    public static func key(_ names: StreamNames, group: String) -> String { "\(names.prefix):alive:\(group)" }

    /// Records a beat of `process` now; beats older than `keep` are dropped.
    /// KEYS: the group's key. ARGV: process, keep (ms).
    static let beatScript = RedisScript(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('ZADD', KEYS[1], now, ARGV[1])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        return now
        """)

    /// How many processes beat within the last `within` ms (Redis time). KEYS: the group's key. ARGV: within (ms).
    static let liveScript = RedisScript(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        return redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[1]), '+inf')
        """)

    public static func beat(_ redis: RedisClient, _ names: StreamNames, group: String, process: String, keep: Duration)
        async throws
    {
        _ = try await redis.eval(
            beatScript, keys: [key(names, group: group)],
            arguments: [RedisArgument(process), RedisArgument(keep.wholeMilliseconds)])
    }

    /// The process stopped running the group (graceful shutdown): it no longer counts.
    public static func stop(_ redis: RedisClient, _ names: StreamNames, group: String, process: String) async throws {
        _ = try await redis.execute(["ZREM", RedisArgument(key(names, group: group)), RedisArgument(process)])
    }

    /// How many processes running `group` beat within `within`.
    public static func live(_ redis: RedisClient, _ names: StreamNames, group: String, within: Duration) async throws -> Int {
        let reply = try await redis.eval(
            liveScript, keys: [key(names, group: group)], arguments: [RedisArgument(within.wholeMilliseconds)])
        return reply.int ?? 0
    }
}
