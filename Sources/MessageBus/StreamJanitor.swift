import Foundation
import Logging
import Redis
import ServiceLifecycle

/// Keeps the streams to their ``StreamRetention``, every minute, as a `Service`.
///
/// Command and event streams lose only entries every consumer group has acknowledged: the oldest
/// of them once they are older than the retention period, or beyond `retainedEntries`. An entry no
/// group has processed yet (a backlog, or a stream nobody consumes yet) is never trimmed, however
/// old: a 202 is a promise. Dead-letter streams keep `deadLetters` of time and at most
/// `deadLetterMaxEntries`; what they drop is logged with its count.
///
/// Trimming is idempotent, so every worker process runs one for the streams it consumes and two
/// janitors on one stream do no harm.
public struct StreamJanitor: Service {
    public let redis: RedisClient
    /// Command and event streams, each with how long its processed entries stay.
    public let streams: [(name: String, keeping: Duration)]
    public let deadLetterStreams: [String]
    public let retention: StreamRetention
    public var interval: Duration = .seconds(60)
    public var logger = Logger(label: "billing.streams")

    public init(
        redis: RedisClient, streams: [(name: String, keeping: Duration)], deadLetterStreams: [String],
        retention: StreamRetention
    ) {
        self.redis = redis
        self.streams = streams
        self.deadLetterStreams = deadLetterStreams
        self.retention = retention
    }

    public func run() async throws {
        await repeatUntilShutdown(every: interval, logger: logger, failure: "stream trimming failed") {
            try await pass()
        }
    }

    /// One pass over every stream: how many entries were trimmed from each (streams trimmed of nothing left out).
    @discardableResult
    public func pass(now: Date = Date()) async throws -> [String: Int] {
        var trimmed: [String: Int] = [:]
        for (stream, keeping) in streams {
            let removed = try await trimProcessed(stream, olderThan: StreamID(before: now, keeping: keeping))
            if removed > 0 { trimmed[stream] = removed }
        }
        for stream in deadLetterStreams {
            let removed = try await trimDeadLetters(stream, olderThan: StreamID(before: now, keeping: retention.deadLetters))
            if removed > 0 {
                trimmed[stream] = removed
                logger.warning(
                    "dead letters past their retention were deleted",
                    metadata: ["stream": "\(stream)", "count": "\(removed)"])
            }
        }
        return trimmed
    }

    /// The first entry some group has not acknowledged yet (its oldest pending entry, or the one after
    /// the last it was given), the lowest over the groups; nil when the stream has no group.
    public func firstUnprocessed(_ stream: String) async throws -> StreamID? {
        var first: StreamID?
        for group in try await redis.send(XINFO_GROUPS(stream)) {
            let pending = try await redis.send(XPENDING_SUMMARY(stream, group: group.name))
            let point =
                pending.smallestID.flatMap(StreamID.init) ?? StreamID(group.lastDeliveredID)?.successor ?? StreamID.zero
            first = min(first ?? point, point)
        }
        return first
    }

    func trimProcessed(_ stream: String, olderThan cutoff: StreamID) async throws -> Int {
        let length = try await redis.send(XLEN(stream))
        guard length > 0, let unprocessed = try await firstUnprocessed(stream) else { return 0 }
        var removed = try await redis.send(XTRIM(stream, .minID(min(cutoff, unprocessed).description, approximate: false)))
        guard length - removed > retention.retainedEntries else { return removed }
        // Beyond the count: keep the newest `retainedEntries`, or all that is unprocessed if that is more.
        let backlog = try await redis.eval(
            Self.countFrom, keys: [stream], arguments: [RedisArgument(unprocessed.description), RedisArgument(retention.retainedEntries)]
        ).int ?? 0
        let trim: StreamTrim =
            backlog >= retention.retainedEntries
            ? .minID(unprocessed.description, approximate: false)
            : .maxLength(retention.retainedEntries, approximate: false)
        removed += try await redis.send(XTRIM(stream, trim))
        return removed
    }

    func trimDeadLetters(_ stream: String, olderThan cutoff: StreamID) async throws -> Int {
        let old = try await redis.send(XTRIM(stream, .minID(cutoff.description, approximate: false)))
        return old + (try await redis.send(XTRIM(stream, .maxLength(retention.deadLetterMaxEntries, approximate: false))))
    }

    // How many entries from ID ARGV[1] on, counting up to ARGV[2]. KEYS: the stream.
    static let countFrom = RedisScript(
        """
        return #redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])
        """)
}

/// A stream entry ID (`<milliseconds>-<sequence>`), ordered as Redis orders them.
public struct StreamID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var milliseconds: UInt64
    public var sequence: UInt64

    public static let zero = StreamID(milliseconds: 0, sequence: 0)

    public init(milliseconds: UInt64, sequence: UInt64) {
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let ms = UInt64(parts[0]), let seq = UInt64(parts[1]) else { return nil }
        self.init(milliseconds: ms, sequence: seq)
    }

    /// The first ID of entries added `keeping` before `now` (entries below it are older).
    public init(before now: Date, keeping: Duration) {
        let cutoff = now.timeIntervalSince1970 - Double(keeping.components.seconds)
        self.init(milliseconds: UInt64(max(0, (cutoff * 1000).rounded(.down))), sequence: 0)
    }

    /// The next possible ID.
    public var successor: StreamID {
        sequence == .max
            ? StreamID(milliseconds: milliseconds + 1, sequence: 0) : StreamID(milliseconds: milliseconds, sequence: sequence + 1)
    }

    public var description: String { "\(milliseconds)-\(sequence)" }

    public static func < (a: StreamID, b: StreamID) -> Bool {
        (a.milliseconds, a.sequence) < (b.milliseconds, b.sequence)
    }
}
