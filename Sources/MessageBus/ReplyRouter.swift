import Foundation
import Logging
import NIOPosix
import Redis
import ServiceLifecycle
import Synchronization

/// The gateway side of request/reply: `XREAD BLOCK` loops on this instance's reply streams, and
/// a correlation map that is filled *before* a command is sent, so no reply can be missed.
/// Replies that arrive after their caller stopped waiting are dropped (the operation keeps them).
///
/// One reply stream and reading loop per event loop: a caller on an event loop names that loop's
/// stream (``stream``), so its reply is read, and its wait resumed, on its own thread.
public final class ReplyRouter: Service, Sendable {
    public let instance: String
    /// Every reply stream of this instance: `<prefix>:reply:<instance>`, then `…-1`, `…-2` per loop.
    public let streams: [String]
    private let readers: [Reader]
    private let retention: StreamRetention
    private let logger: Logger
    private let slots = Mutex<[String: Slot]>([:])
    private let dropped = Atomic<Int>(0)

    /// One reading loop: its stream, its event loop, a blocking connection there, and the wall-clock
    /// milliseconds of its last completed read (a BLOCK read returns at least every second; 0 before the first).
    private final class Reader: Sendable {
        let stream: String
        let executor: EventLoopTaskExecutor
        let redis: RedisClient
        let lastRead = Atomic<Int64>(0)

        init(stream: String, executor: EventLoopTaskExecutor, redis: RedisClient) {
            self.stream = stream
            self.executor = executor
            self.redis = redis
        }
    }

    private enum Slot {
        case registered
        case arrived(Reply)
        case waiting(UnsafeContinuation<Reply?, Never>, deadline: ContinuousClock.Instant)
    }

    /// `instance` must be unique per running gateway (host-pid-random by default).
    public init(
        redis: RedisClient, names: StreamNames = StreamNames(), instance: String = ReplyRouter.makeInstanceName(),
        retention: StreamRetention = StreamRetention(), logger: Logger = Logger(label: "billing.replies")
    ) {
        let base = names.replies(instance)
        self.readers = EventLoopTaskExecutor.shared.enumerated().map { index, executor in
            Reader(
                stream: index == 0 ? base : "\(base)-\(index)", executor: executor,
                redis: redis.makeDedicatedClient(on: executor.loop))
        }
        self.streams = readers.map(\.stream)
        self.instance = instance
        self.retention = retention
        self.logger = logger
    }

    /// The reply stream a command sent from here should name: the one read on the caller's event
    /// loop, or the first when the caller is not on one.
    public var stream: String {
        if readers.count > 1, let current = MultiThreadedEventLoopGroup.currentEventLoop,
            let reader = readers.first(where: { $0.executor.loop === current })
        {
            return reader.stream
        }
        return readers[0].stream
    }

    public static func makeInstanceName() -> String {
        "\(StreamNames.processName)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// True while every reply loop is reading: its last read finished within `within` (a read blocks
    /// for at most a second, so a healthy loop reads more often than that).
    public func isReading(within: Duration = .seconds(5)) -> Bool {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        return readers.allSatisfy { reader in
            let last = reader.lastRead.load(ordering: .relaxed)
            return last > 0 && now - last <= within.wholeMilliseconds
        }
    }

    /// Late replies dropped so far.
    public var droppedReplies: Int { dropped.load(ordering: .relaxed) }

    /// Registers interest in the reply to command `id`; call before sending the command.
    public func expect(_ id: String) {
        slots.withLock { $0[id] = .registered }
    }

    /// Waits for the reply to `id` (registered with ``expect(_:)``) for at most `timeout`; nil when
    /// it did not come in time. Either way the registration is removed. Replies and timeouts are
    /// both delivered by ``run()``, which must be running (as a service) for a wait to end.
    nonisolated(nonsending) public func wait(for id: String, timeout: Duration) async -> Reply? {
        // No timer per request: the run loop's sweeper resolves waits past their deadline.
        let deadline = ContinuousClock.now + timeout
        return await withUnsafeContinuation { continuation in
            let immediate: Reply?? = slots.withLock { slots in
                switch slots[id] {
                case .arrived(let reply):
                    slots[id] = nil
                    return .some(reply)
                case .registered:
                    slots[id] = .waiting(continuation, deadline: deadline)
                    return .none
                case .waiting, nil:
                    return .some(nil)  // never registered, or already timed out
                }
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }

    /// Resolves with nil every wait whose deadline has passed.
    func sweepExpired(now: ContinuousClock.Instant = .now) {
        let expired: [UnsafeContinuation<Reply?, Never>] = slots.withLock { slots in
            var expired: [UnsafeContinuation<Reply?, Never>] = []
            for (id, slot) in slots {
                if case .waiting(let continuation, let deadline) = slot, deadline <= now {
                    slots[id] = nil
                    expired.append(continuation)
                }
            }
            return expired
        }
        for continuation in expired { continuation.resume(returning: nil) }
    }

    /// Stops waiting for `id` without a reply (the caller gave up, e.g. answered 202).
    public func forget(_ id: String) { resolve(id, with: nil) }

    private func resolve(_ id: String, with reply: Reply?) {
        let continuation: UnsafeContinuation<Reply?, Never>? = slots.withLock { slots in
            switch slots[id] {
            case .waiting(let c, _):
                slots[id] = nil
                return c
            case .registered:
                if let reply { slots[id] = .arrived(reply) } else { slots[id] = nil }
                return nil
            case .arrived:
                if reply == nil { slots[id] = nil }
                return nil
            case nil:
                if reply != nil { dropped.add(1, ordering: .relaxed) }
                return nil
            }
        }
        continuation?.resume(returning: reply)
    }

    public func run() async throws {
        // Every 20 ms, time out the waits that are due (timeouts are honoured within that).
        let sweeper = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(20))
                self?.sweepExpired()
            }
        }
        defer { sweeper.cancel() }
        await withTaskGroup(of: Void.self) { group in
            for reader in readers {
                group.addTask(executorPreference: reader.executor) { await self.readReplies(reader) }
            }
        }
        // Wake every waiter: no reply will come through this instance any more.
        let waiting = slots.withLock { slots -> [UnsafeContinuation<Reply?, Never>] in
            let all = slots.values.compactMap { slot -> UnsafeContinuation<Reply?, Never>? in
                if case .waiting(let c, _) = slot { return c }
                return nil
            }
            slots.removeAll()
            return all
        }
        for continuation in waiting { continuation.resume(returning: nil) }
    }

    /// One reply stream's loop, on its event loop, until shutdown.
    private func readReplies(_ reader: Reader) async {
        let (redis, stream) = (reader.redis, reader.stream)
        var lastID = "0-0"  // a fresh instance name: nothing older can be ours
        var readIDs: [String] = []
        var lastExpire = ContinuousClock.now - .seconds(3600)
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    if ContinuousClock.now - lastExpire > .seconds(10) {
                        // Keep our stream alive while we run; it expires once we are gone.
                        _ = try await redis.send(PEXPIRE(stream, after: retention.replyStreamTTL))
                        lastExpire = ContinuousClock.now
                    }
                    // What was read last time is deleted in the same write as the next read: replies
                    // carry secrets shown once (a new API key, tokens), which must not wait in Redis.
                    let read: [StreamMessages]
                    if readIDs.isEmpty {
                        read = try await redis.send(XREAD(streams: [(stream, lastID)], count: 512, block: .seconds(1)))
                    } else {
                        (_, read) = try await redis.send(
                            XDEL(stream, ids: readIDs), XREAD(streams: [(stream, lastID)], count: 512, block: .seconds(1)))
                        readIDs = []
                    }
                    reader.lastRead.store(Int64(Date().timeIntervalSince1970 * 1000), ordering: .relaxed)
                    for entry in read.first?.entries ?? [] {
                        readIDs.append(entry.id)
                        lastID = entry.id
                        do {
                            if let json = entry.fields[CommandBus.envelopeField] {
                                let reply = try MessageCoding.decode(Reply.self, from: json)
                                resolve(reply.id, with: reply)
                            } else if let json = entry.fields[ReplyPublisher.repliesField] {
                                for reply in try MessageCoding.decode([Reply].self, from: json) { resolve(reply.id, with: reply) }
                            }
                        } catch {
                            logger.warning("unreadable reply dropped", metadata: ["entry": "\(entry.id)", "error": "\(error)"])
                        }
                    }
                } catch {
                    if Task.isCancelled { break }
                    logger.warning("reply stream read failed", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
        } onGracefulShutdown: {}
        await redis.shutdown()
    }
}
