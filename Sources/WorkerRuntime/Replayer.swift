import MessageBus
import Foundation
import Redis

/// Re-runs a range of a command stream through the same processor the workers use. The ledger
/// makes this safe: what was applied is reported as such and changes nothing; what is missing
/// (say, after restoring an older backup) is applied again. Nobody waits for replies, so none are sent.
public struct Replayer: Sendable {
    public struct Summary: Sendable, Equatable, CustomStringConvertible {
        public var applied = 0
        public var alreadyApplied = 0
        public var expired = 0
        public var failed = 0
        public var unreadable = 0

        public init(applied: Int = 0, alreadyApplied: Int = 0, expired: Int = 0, failed: Int = 0, unreadable: Int = 0) {
            self.applied = applied
            self.alreadyApplied = alreadyApplied
            self.expired = expired
            self.failed = failed
            self.unreadable = unreadable
        }

        public var total: Int { applied + alreadyApplied + expired + failed + unreadable }
        public var description: String {
            "applied \(applied), already applied \(alreadyApplied), expired \(expired), failed \(failed), unreadable \(unreadable)"
        }
    }

    public let redis: RedisClient
    public let processor: CommandProcessor
    public let pageSize: Int

    public init(redis: RedisClient, processor: CommandProcessor, pageSize: Int = 200) {
        self.redis = redis
        self.processor = processor
        self.pageSize = pageSize
    }

    /// Replays `stream` from `from` to `to` (inclusive stream IDs; `-` and `+` for the ends).
    /// Deadlines are ignored: a replay runs what the original run would have run.
    public func replay(
        stream: String, from: String = "-", to: String = "+", progress: @Sendable (Summary) -> Void = { _ in }
    ) async throws -> Summary {
        var summary = Summary()
        var start = from
        while true {
            let page = try await redis.send(XRANGE(stream, start: start, end: to, count: pageSize))
            guard !page.isEmpty else { break }
            var envelopes: [Envelope] = []
            for entry in page {
                guard let json = entry.fields[CommandBus.envelopeField],
                    var envelope = try? MessageCoding.decode(Envelope.self, from: json),
                    processor.registry.handler(for: envelope.type) != nil
                else {
                    summary.unreadable += 1
                    continue
                }
                envelope.deadline = nil
                envelope.replyTo = ""
                envelopes.append(envelope)
            }
            for result in await processor.process(envelopes) {
                switch result {
                case .success(.applied): summary.applied += 1
                case .success(.alreadyApplied): summary.alreadyApplied += 1
                case .success(.expired): summary.expired += 1
                case .failure: summary.failed += 1
                }
            }
            progress(summary)
            guard page.count == pageSize, let last = page.last else { break }
            start = "(" + last.id  // exclusive start (Redis ≥ 6.2)
        }
        return summary
    }
}
