import Foundation
import Redis

/// What operators do to the streams: status, pending entries, dead letters (list, retry, purge).
/// Used by `billing streams …` and the admin routes.
public struct StreamAdmin: Sendable {
    /// Retries go back through the bus (refused, as any append, when the stream is full).
    public let bus: CommandBus
    public var redis: RedisClient { bus.redis }
    public var names: StreamNames { bus.names }

    public init(redis: RedisClient, names: StreamNames = StreamNames(), retention: StreamRetention = StreamRetention()) {
        bus = CommandBus(redis: redis, names: names, retention: retention)
    }

    /// One consumer group's state.
    public struct GroupStatus: Sendable {
        public var name: String
        public var lag: Int?
        public var pending: Int
        public var oldestPendingAge: Duration?
        public var consumers: [ConsumerInfo]
    }

    /// One stream's state, with its service's dead letters.
    public struct StreamStatus: Sendable {
        public var stream: String
        public var length: Int
        public var groups: [GroupStatus]
        public var deadLetters: Int
    }

    /// Status of the command stream of each service and of the events stream.
    public func status(services: [String]) async throws -> [StreamStatus] {
        var result: [StreamStatus] = []
        for service in services {
            result.append(
                try await status(
                    stream: names.commands(service), deadLetters: try await redis.send(XLEN(names.deadLetters(service)))))
        }
        result.append(try await status(stream: names.events, deadLetters: 0))
        return result
    }

    func status(stream: String, deadLetters: Int) async throws -> StreamStatus {
        let length = try await redis.send(XLEN(stream))
        let exists = length > 0 ? 1 : try await redis.send(EXISTS(stream))
        guard exists > 0 else {
            return StreamStatus(stream: stream, length: 0, groups: [], deadLetters: deadLetters)
        }
        var groups: [GroupStatus] = []
        for group in try await redis.send(XINFO_GROUPS(stream)) {
            let oldest = try await redis.send(XPENDING(stream, group: group.name, count: 1)).first
            groups.append(
                GroupStatus(
                    name: group.name, lag: group.lag, pending: group.pending,
                    oldestPendingAge: oldest.map { .milliseconds($0.idleMilliseconds) },
                    consumers: try await redis.send(XINFO_CONSUMERS(stream, group: group.name))))
        }
        return StreamStatus(stream: stream, length: length, groups: groups, deadLetters: deadLetters)
    }

    /// Pending entries of a service's group (who holds them, how long, how many deliveries).
    public func pending(service: String, count: Int = 100) async throws -> [PendingEntry] {
        try await redis.send(XPENDING(names.commands(service), group: service, count: count))
    }

    /// Dead letters of a service, oldest first (from entry ID `from`, inclusive, when given).
    public func deadLetters(service: String, from: String = "-", count: Int = 100) async throws -> [DeadLetter] {
        try await redis.send(XRANGE(names.deadLetters(service), start: from, count: count)).map {
            DeadLetter(id: $0.id, fields: $0.fields)
        }
    }

    /// Puts dead letters back on the command stream (all of them when `ids` is empty) and removes
    /// them from the dead-letter stream; returns how many were retried.
    @discardableResult
    public func retryDeadLetters(service: String, ids: [String] = []) async throws -> Int {
        let dlq = names.deadLetters(service)
        let letters: [StreamEntry]
        if ids.isEmpty {
            letters = try await redis.send(XRANGE(dlq))
        } else {
            var found: [StreamEntry] = []
            for id in ids { found += try await redis.send(XRANGE(dlq, start: id, end: id)) }
            letters = found
        }
        for letter in letters {
            let envelope = letter.fields[CommandBus.envelopeField] ?? ""
            try await bus.append(
                [(CommandBus.envelopeField, RedisArgument(envelope)), ("retry_of", RedisArgument(letter.id))],
                to: names.commands(service))
            try await redis.send(XDEL(dlq, ids: [letter.id]))
        }
        return letters.count
    }

    /// Deletes dead letters (all of them when `ids` is empty); returns how many.
    @discardableResult
    public func purgeDeadLetters(service: String, ids: [String] = []) async throws -> Int {
        let dlq = names.deadLetters(service)
        if ids.isEmpty {
            let count = try await redis.send(XLEN(dlq))
            try await redis.send(DEL(dlq))
            return count
        }
        return try await redis.send(XDEL(dlq, ids: ids))
    }
}
