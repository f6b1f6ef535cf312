import Contracts
import Foundation
import MessageBus
import Logging
import Metrics
import NIOCore
import Redis
import ServiceLifecycle
import Synchronization

/// Tuning of a consumer group runner.
public struct ConsumerSettings: Sendable {
    /// Consumers (each with its own blocking connection) in this process.
    public var consumers: Int = 1
    /// Most entries in one batch (read together, processed together).
    public var batchSize: Int = 32
    /// How long one XREADGROUP waits for new entries.
    public var block: Duration = .seconds(1)
    /// Entries pending longer than this (their consumer died or is stuck) are reclaimed.
    public var claimMinIdle: Duration = .seconds(30)
    /// How often pending entries are checked for reclaiming and dead-lettering.
    public var claimInterval: Duration = .seconds(5)
    /// How often the process records that it runs the group (``ConsumerHeartbeat``); readiness
    /// allows several missed beats (the gateway's `consumerLiveness`, 30 s).
    public var heartbeatInterval: Duration = .seconds(5)
    /// Deliveries after which an entry goes to the dead-letter stream.
    public var maxDeliveries: Int = 5
    /// Consumers of the group idle this long with nothing pending are removed.
    public var idleConsumerTimeout: Duration = .seconds(3600)
    /// Whether answers are published (operation state, reply streams); an event consumer has no
    /// one to answer, so it turns this off.
    public var publishesReplies = true

    public init() {}
}

/// A consumer group as a `Service`: reads a stream with XREADGROUP, runs each batch through a
/// ``CommandProcessor``, replies, and XACKs only after the effects committed. It drains its own
/// pending entries first, reclaims entries idle elsewhere (XAUTOCLAIM), dead-letters entries that
/// keep failing or cannot be read, and on graceful shutdown stops reading, finishes and acks what
/// it holds, then exits.
public final class ConsumerGroupRunner: Service, Sendable {
    public let stream: String
    public let group: String
    public let settings: ConsumerSettings
    private let redis: RedisClient
    private let names: StreamNames
    private let processor: CommandProcessor
    /// Records this process's MongoDB sessions, and aborts a dead process's open transactions.
    private let fence: SessionFence
    private let replies: ReplyPublisher
    private let retention: StreamRetention
    private let deadLetterStream: String
    /// The stream is this group's own command stream (`billing:cmd:<group>`): no other group reads
    /// it, so settled entries may be deleted from it. The shared `billing:events` never is.
    private let ownsStream: Bool
    private let consumerPrefix: String
    private let logger: Logger
    /// Entries this process's consumers are working on (read, not yet settled): idle in Redis's
    /// eyes while a slow batch runs, but not to be reclaimed by our own maintenance.
    private let inFlight = Mutex<Set<String>>([])
    private let wallClock: any BillingClock

    private let lagGauge: Gauge
    /// Metric handles per message type, made once (a metrics backend looks a handle up under a lock).
    private let typeMetrics = Mutex<[String: TypeMetrics]>([:])

    private struct TypeMetrics {
        let processed: Counter
        let failed: Counter
        let deadLettered: Counter
        let duration: Metrics.Timer
    }
    private let pendingGauge: Gauge

    /// A runner for a service's command stream (`billing:cmd:<service>`, group `<service>`).
    public convenience init(
        service: String, processor: CommandProcessor, redis: RedisClient, names: StreamNames = StreamNames(),
        settings: ConsumerSettings = ConsumerSettings(), retention: StreamRetention = StreamRetention(),
        logger: Logger = Logger(label: "billing.consumer")
    ) {
        self.init(
            stream: names.commands(service), group: service, deadLetterStream: names.deadLetters(service),
            processor: processor, redis: redis, names: names, settings: settings, retention: retention, logger: logger)
    }

    public convenience init(
        stream: String, group: String, deadLetterStream: String, processor: CommandProcessor, redis: RedisClient,
        names: StreamNames = StreamNames(), settings: ConsumerSettings = ConsumerSettings(),
        retention: StreamRetention = StreamRetention(), wallClock: any BillingClock = SystemBillingClock(),
        logger: Logger = Logger(label: "billing.consumer")
    ) {
        self.init(
            stream: stream, group: group, deadLetterStream: deadLetterStream, processor: processor, redis: redis,
            names: names, settings: settings, retention: retention, wallClock: wallClock,
            processName: StreamNames.processName, logger: logger)
    }

    /// `processName`: the prefix of the consumers' names, this process's host-pid outside tests
    /// (which play a process restarted with a pid it had before).
    init(
        stream: String, group: String, deadLetterStream: String, processor: CommandProcessor, redis: RedisClient,
        names: StreamNames, settings: ConsumerSettings, retention: StreamRetention, wallClock: any BillingClock,
        processName: String, logger: Logger
    ) {
        self.stream = stream
        self.group = group
        self.deadLetterStream = deadLetterStream
        self.ownsStream = stream == names.commands(group)
        self.redis = redis
        self.names = names
        self.settings = settings
        self.retention = retention
        self.replies = ReplyPublisher(redis: redis, names: names, retention: retention)
        self.wallClock = wallClock
        var logger = logger
        logger[metadataKey: "group"] = "\(group)"
        self.logger = logger
        self.consumerPrefix = processName
        let fence = processor.fence ?? SessionFence(redis: redis, names: names, process: consumerPrefix)
        self.fence = fence
        var processor = processor
        processor.fence = fence
        self.processor = processor
        let dimensions = [("group", group)]
        lagGauge = Gauge(label: "billing_group_lag", dimensions: dimensions)
        pendingGauge = Gauge(label: "billing_group_pending", dimensions: dimensions)
    }

    /// Consumer names are host-pid-n: stable for the life of the process, unique across processes.
    public func consumerName(_ index: Int) -> String { "\(consumerPrefix)-\(index)" }

    public func run() async throws {
        try await ensureGroup()
        logger.info("consumer group started", metadata: ["stream": "\(stream)", "consumers": "\(settings.consumers)"])
        await withTaskGroup(of: Void.self) { tasks in
            for index in 0..<settings.consumers {
                tasks.addTask { await self.consume(as: self.consumerName(index)) }
            }
            tasks.addTask { await self.maintain(as: self.consumerName(0)) }
            tasks.addTask { await self.beat() }
        }
        logger.info("consumer group stopped", metadata: ["stream": "\(stream)"])
    }

    /// ServiceLifecycle's graceful shutdown (SIGTERM) stops the reading; in-flight batches finish
    /// and are acknowledged. A read blocked in XREADGROUP ends within `block` (1 s by default); it
    /// is not cut short, since entries Redis delivered at that instant would stay pending.
    private var isStopping: Bool { Task.isShuttingDownGracefully || Task.isCancelled }

    func ensureGroup() async throws {
        do {
            try await redis.send(XGROUP_CREATE(stream, group: group, id: "0", makeStream: true))
        } catch where error.serverErrorPrefix == "BUSYGROUP" {
            // Exists already: another process created it.
        }
    }

    // MARK: Reading

    /// One consumer: on an event loop of its own choosing, with its blocking connection (and the
    /// shared client's connection it picks) on that loop, so a batch never changes thread for Redis.
    private func consume(as consumer: String) async {
        let executor = EventLoopTaskExecutor.next()
        await withTaskExecutorPreference(executor) {
            await self.consume(as: consumer, on: executor.loop)
        }
    }

    private func consume(as consumer: String, on loop: any EventLoop) async {
        let connection = redis.makeDedicatedClient(on: loop)
        defer { Task { await connection.shutdown() } }
        // First our own pending entries (a restart with the same name), then new ones. Those
        // delivered `maxDeliveries` times already are dead-lettered rather than read again: a
        // process restarted in a container often gets its old pid, so its old entries come back
        // through its own name, never idle in another consumer's, where the limit was applied; an
        // entry that crashes the process would otherwise be rerun on every restart.
        let (delivered, exhausted) = await deadLetterOwnExhausted(consumer)
        var cursor = "0"
        while !isStopping {
            do {
                let read = try await connection.send(
                    XREADGROUP(group: group, consumer: consumer, streams: [(stream, cursor)], count: settings.batchSize)
                ).first?.entries ?? []
                if read.isEmpty { break }
                cursor = read[read.count - 1].id
                // One whose dead-lettering failed is left pending: the idle reclaim applies the limit.
                let entries = read.filter { !exhausted.contains($0.id) }
                track(entries)
                await handle(entries, deliveries: delivered.mapValues { $0 + 1 })
            } catch {
                logger.warning("reading own pending entries failed", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        // A batch's answers are published while the next batch is read and processed (at most one
        // batch settling at a time); the group waits for the last one before the consumer leaves.
        await withTaskGroup(of: Void.self) { settling in
            var outstanding = false
            while !isStopping {
                do throws(RedisError) {
                    let entries = try await readNew(on: connection, as: consumer)
                    if entries.isEmpty { continue }
                    track(entries)
                    let processed = await process(entries, deliveries: [:])
                    if outstanding { await settling.next() }
                    settling.addTask { await self.settle(processed, fresh: true) }
                    outstanding = true
                } catch where error.serverErrorPrefix == "NOGROUP" {
                    // The stream or group was deleted under us: recreate and go on.
                    try? await ensureGroup()
                } catch {
                    if isStopping { break }
                    logger.warning("XREADGROUP failed", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
        }
        // Leave the group tidy: a consumer that holds nothing is removed on the way out.
        if let pending = try? await redis.send(XPENDING(stream, group: group, count: 1, consumer: consumer)),
            pending.isEmpty
        {
            _ = try? await redis.send(XGROUP_DELCONSUMER(stream, group: group, consumer: consumer))
        }
    }

    /// Dead-letters `consumer`'s own pending entries that were delivered `maxDeliveries` times;
    /// returns the delivery counts of the others, and the IDs of those at the limit. Retried until
    /// it succeeds (or the runner stops): reading the entries without it would bypass the limit.
    private func deadLetterOwnExhausted(_ consumer: String) async -> (counts: [String: Int], exhausted: Set<String>) {
        while !isStopping {
            do {
                var counts: [String: Int] = [:]
                var exhausted: Set<String> = []
                var start = "-"
                while true {
                    let page = try await redis.send(XPENDING(stream, group: group, start: start, count: 1000, consumer: consumer))
                    for entry in page {
                        if entry.deliveryCount >= settings.maxDeliveries {
                            exhausted.insert(entry.id)
                            try await deadLetterExhausted(entry)
                        } else {
                            counts[entry.id] = entry.deliveryCount
                        }
                    }
                    guard page.count == 1000, let last = page.last else { break }
                    start = "(" + last.id
                }
                return (counts, exhausted)
            } catch let error as RedisError where error.serverErrorPrefix == "NOGROUP" {
                try? await ensureGroup()  // the stream or group was deleted under us: nothing of ours is pending
            } catch {
                logger.warning("reading own pending entries failed", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        return ([:], [])
    }

    /// The next batch of new entries, waiting up to `block` for one. Two reads go in one write: a
    /// blocking one for a single entry, then an immediate one for the rest of the batch. Redis
    /// answers a blocked read as soon as the first XADD of a burst lands, before the XADDs behind
    /// it; the second read runs after them and takes them into the same batch (alone, the first
    /// read would make a batch of one, and the burst would wait a whole batch for the next read).
    nonisolated(nonsending) private func readNew(on connection: RedisClient, as consumer: String) async throws(RedisError)
        -> [StreamEntry]
    {
        let streams = [(stream, ">")]
        let first = XREADGROUP(group: group, consumer: consumer, streams: streams, count: 1, block: settings.block)
        guard settings.batchSize > 1 else { return try await connection.send(first).first?.entries ?? [] }
        let (one, rest) = try await connection.send(
            first, XREADGROUP(group: group, consumer: consumer, streams: streams, count: settings.batchSize - 1))
        return (one.first?.entries ?? []) + (rest.first?.entries ?? [])
    }

    // MARK: Processing

    /// Parses, processes, replies and acks one batch. Entries whose processing failed stay pending
    /// (their error remembered) to be reclaimed and retried.
    nonisolated(nonsending) func handle(_ entries: [StreamEntry], deliveries: [String: Int], fresh: Bool = false) async {
        await settle(await process(entries, deliveries: deliveries), fresh: fresh)
    }

    private func track(_ entries: [StreamEntry]) {
        inFlight.withLock { for entry in entries { $0.insert(entry.id) } }
    }

    private func untrack(_ processed: Processed) {
        inFlight.withLock { set in for id in processed.entryIDs { set.remove(id) } }
    }

    private func isInFlight(_ id: String) -> Bool { inFlight.withLock { $0.contains(id) } }

    /// A processed batch's answers and the entries they settle, to be published and acknowledged.
    struct Processed: Sendable {
        /// Every entry of the batch, settled or not (failures stay pending).
        var entryIDs: [String] = []
        /// Entry ID, command and reply of every message that was answered.
        var answered: [(id: String, command: Envelope, reply: Reply)] = []
    }

    /// Parses and processes one batch (dead-lettering unreadable entries); what is left is to
    /// publish the answers and acknowledge (``settle(_:fresh:)``).
    nonisolated(nonsending) func process(_ entries: [StreamEntry], deliveries: [String: Int]) async -> Processed {
        var processed = Processed(entryIDs: entries.map(\.id))
        var valid: [(StreamEntry, Envelope)] = []
        for entry in entries {
            if entry.isDeleted {
                await deadLetterTrimmed(entry.id, deliveries: deliveries[entry.id] ?? 1)
                continue
            }
            guard let json = entry.fields[CommandBus.envelopeField] else {
                await deadLetter(entry.id, raw: "", error: "malformed entry: no '\(CommandBus.envelopeField)' field", deliveries: deliveries[entry.id] ?? 1)
                continue
            }
            let envelope: Envelope
            do {
                envelope = try MessageCoding.decode(Envelope.self, from: json)
            } catch {
                await deadLetter(entry.id, raw: json, error: "malformed envelope: \(MessageCoding.describe(error))", deliveries: deliveries[entry.id] ?? 1)
                continue
            }
            guard processor.registry.handler(for: envelope.type) != nil else {
                await deadLetter(entry.id, raw: json, error: "unknown type '\(envelope.type)' for \(group)", deliveries: deliveries[entry.id] ?? 1)
                continue
            }
            valid.append((entry, envelope))
        }
        guard !valid.isEmpty else { return processed }
        let started = ContinuousClock.now
        let results = await processor.process(valid.map(\.1))
        let elapsed = ContinuousClock.now - started
        let nanoseconds = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        var failures: [(String, String)] = []
        for ((entry, envelope), result) in zip(valid, results) {
            let metrics = metrics(envelope.type)
            metrics.duration.recordNanoseconds(nanoseconds)
            switch result {
            case .success(let outcome):
                metrics.processed.increment()
                processed.answered.append((entry.id, envelope, outcome.reply))
            case .failure(let error):
                metrics.failed.increment()
                let text = MessageCoding.describe(error)
                logger.warning(
                    "message failed", metadata: ["id": "\(envelope.id)", "type": "\(envelope.type)", "error": "\(text)"])
                failures.append((entry.id, text))
            }
        }
        if !failures.isEmpty {
            // Remembered for the dead letter, should the entry come back too often.
            _ = try? await redis.send(HSET(names.lastErrors(group), fields: failures.map { ($0.0, RedisArgument($0.1)) }))
        }
        return processed
    }

    /// Publishes a processed batch's answers and acknowledges its entries: the XACK is sent only
    /// once every answer was written, so an entry is acknowledged only once its answer exists.
    /// `fresh`: first deliveries, which have no remembered errors to forget.
    nonisolated(nonsending) func settle(_ processed: Processed, fresh: Bool) async {
        defer { untrack(processed) }
        let acknowledged = processed.answered.map(\.id)
        guard settings.publishesReplies, !processed.answered.isEmpty else {
            if await acknowledge(acknowledged, mayHaveErrors: !fresh) {
                await deleteSettledEntries(processed)
            }
            return
        }
        do {
            try await replies.publish(
                processed.answered.map { ($0.reply, $0.command) },
                acknowledging: .init(stream: stream, group: group, ids: acknowledged))
            if !fresh { await forgetErrors(acknowledged) }
            let sealed = processed.answered.filter { $0.reply.secretFields != nil }.map(\.command)
            do {
                try await processor.forgetSealedReplies(sealed)
            } catch {
                logger.warning(
                    "sealed replies not deleted from the ledger; they expire with it",
                    metadata: ["count": "\(sealed.count)", "error": "\(error)"])
            }
            await deleteSettledEntries(processed)
        } catch {
            // Committed but not answered: leave them pending, to be reclaimed and answered from the
            // ledger; the error is remembered for the dead letter, should that keep failing.
            let text = "reply not published: \(error)"
            logger.warning("replies failed", metadata: ["count": "\(processed.answered.count)", "error": "\(text)"])
            _ = try? await redis.send(
                HSET(names.lastErrors(group), fields: acknowledged.map { ($0, RedisArgument(text)) }))
        }
    }

    /// Drops the remembered errors of entries that are now acknowledged.
    nonisolated(nonsending) private func forgetErrors(_ ids: [String]) async {
        guard !ids.isEmpty else { return }
        _ = try? await redis.execute(["HDEL", RedisArgument(names.lastErrors(group))] + ids.map { RedisArgument($0) })
    }

    /// XACK, and forget remembered errors (a first delivery has none, so that round trip is skipped).
    /// Whether the entries are acknowledged.
    @discardableResult
    nonisolated(nonsending) private func acknowledge(_ ids: [String], mayHaveErrors: Bool = true) async -> Bool {
        guard !ids.isEmpty else { return true }
        do {
            try await redis.send(XACK(stream, group: group, ids: ids))
            if mayHaveErrors { await forgetErrors(ids) }
            return true
        } catch {
            // Unacked entries are redelivered; the ledger makes that harmless.
            logger.warning("XACK failed", metadata: ["error": "\(error)", "count": "\(ids.count)"])
            return false
        }
    }

    /// Deletes the acknowledged entries that need not stay for replay: commands that carry secrets
    /// (a password, a refresh token: a redelivery is answered from the ledger, so the secret need
    /// not wait in Redis) and reads (they change nothing, and a client's every GET retained for days
    /// would grow Redis without bound). The stream keeps every other command for its retention.
    /// Only on the group's own command stream: an event this group ignores (a `readEvery` answer)
    /// is still waiting for the other groups of `billing:events`, and for a replay.
    nonisolated(nonsending) private func deleteSettledEntries(_ processed: Processed) async {
        guard ownsStream else { return }
        let ids = processed.answered.filter { answered in
            if Commands.secretFields[answered.command.type] != nil { return true }
            if case .read = processor.registry.handler(for: answered.command.type) { return true }
            return false
        }.map(\.id)
        guard !ids.isEmpty else { return }
        do {
            _ = try await redis.send(XDEL(stream, ids: ids))
        } catch {
            logger.warning("settled entries not deleted", metadata: ["error": "\(error)", "count": "\(ids.count)"])
        }
    }

    /// A dead letter's envelope with the secret fields of its command type (``BusCommand/secretFields``)
    /// replaced: dead letters are kept and listed to admins. Text that is no envelope is kept as it is.
    static func redactingSecrets(_ raw: String) -> String {
        guard let envelope = try? MessageCoding.decode(Envelope.self, from: raw),
            let secrets = Commands.secretFields[envelope.type]
        else { return raw }
        func redact(_ value: JSONValue) -> JSONValue {
            guard case .object(var fields) = value else { return value }
            for name in secrets where fields[name] != nil { fields[name] = .string("[redacted]") }
            return .object(fields)
        }
        var redacted = envelope
        redacted.payload = redact(envelope.payload)
        if case .object(var parts) = redacted.payload, let body = parts["body"] {
            parts["body"] = redact(body)
            redacted.payload = .object(parts)
        }
        return (try? MessageCoding.encode(redacted)).map { String(decoding: $0, as: UTF8.self) } ?? raw
    }

    /// Dead-letters a pending entry delivered `maxDeliveries` times, with its last error.
    private func deadLetterExhausted(_ entry: PendingEntry) async throws {
        let payload = try await redis.send(XRANGE(stream, start: entry.id, end: entry.id)).first
        let lastError = try await redis.execute(["HGET", RedisArgument(names.lastErrors(group)), RedisArgument(entry.id)]).string
        guard let payload else {
            await deadLetter(entry.id, raw: "", error: Self.trimmedError(lastError), deliveries: entry.deliveryCount)
            return
        }
        await deadLetter(
            entry.id, raw: payload.fields[CommandBus.envelopeField] ?? "",
            error: lastError ?? "failed \(entry.deliveryCount) deliveries", deliveries: entry.deliveryCount)
    }

    /// An entry trimmed from the stream (MAXLEN/MINID) or deleted while it was pending: nothing is
    /// left to run, but whoever sent it was never answered, so it is dead-lettered (and acked), not
    /// dropped without a trace.
    private func deadLetterTrimmed(_ id: String, deliveries: Int) async {
        let lastError = try? await redis.execute(["HGET", RedisArgument(names.lastErrors(group)), RedisArgument(id)]).string
        await deadLetter(id, raw: "", error: Self.trimmedError(lastError), deliveries: deliveries)
    }

    static func trimmedError(_ lastError: String?) -> String {
        "trimmed from the stream before it was processed" + (lastError.map { "; last error: \($0)" } ?? "")
    }

    private func deadLetter(_ id: String, raw: String, error: String, deliveries: Int) async {
        do {
            let fields = DeadLetter.fields(
                originalID: id, envelope: Self.redactingSecrets(raw), error: error, deliveries: deliveries,
                at: wallClock.now())
            try await redis.send(XADD(deadLetterStream, fields: fields.map { ($0.0, RedisArgument($0.1)) }))
            try await redis.send(XACK(stream, group: group, ids: [id]))
            _ = try? await redis.execute(["HDEL", RedisArgument(names.lastErrors(group)), RedisArgument(id)])
            // Only registered types become metric labels: a stream entry must not mint new series.
            let type = (try? MessageCoding.decode(Envelope.self, from: raw))?.type
            metrics(type.flatMap { processor.registry.handler(for: $0) != nil ? $0 : nil } ?? "unknown").deadLettered.increment()
            logger.error("message dead-lettered", metadata: ["entry": "\(id)", "error": "\(error)"])
        } catch {
            logger.warning("dead-lettering failed", metadata: ["entry": "\(id)", "error": "\(error)"])
        }
    }

    private func metrics(_ type: String) -> TypeMetrics {
        typeMetrics.withLock { cache in
            if let known = cache[type] { return known }
            let dimensions = [("group", group), ("type", type)]
            let made = TypeMetrics(
                processed: Counter(label: "billing_messages_processed_total", dimensions: dimensions),
                failed: Counter(label: "billing_messages_failed_total", dimensions: dimensions),
                deadLettered: Counter(label: "billing_messages_dead_lettered_total", dimensions: dimensions),
                duration: Metrics.Timer(label: "billing_handler_duration_seconds", dimensions: dimensions))
            cache[type] = made
            return made
        }
    }

    // MARK: Liveness

    /// Beats on a timer of its own (a task apart from the read loops, so a long batch or busy
    /// loops do not stop it) until graceful shutdown, then withdraws the process.
    private func beat() async {
        let keep = max(settings.heartbeatInterval * 12, .seconds(60))
        while !isStopping {
            do {
                try await ConsumerHeartbeat.beat(redis, names, group: group, process: consumerPrefix, keep: keep)
            } catch {
                logger.warning("heartbeat not recorded", metadata: ["error": "\(error)"])
            }
            await sleepUnlessStopping(settings.heartbeatInterval)
        }
        try? await ConsumerHeartbeat.stop(redis, names, group: group, process: consumerPrefix)
    }

    // MARK: Reclaiming, dead letters, housekeeping

    private func maintain(as consumer: String) async {
        while !isStopping {
            await sleepUnlessStopping(settings.claimInterval)
            if isStopping { break }
            do {
                await fence.refresh()
                try await reclaim(as: consumer)
                try await removeIdleConsumers()
                if let info = try await redis.send(XINFO_GROUPS(stream)).first(where: { $0.name == group }) {
                    lagGauge.record(info.lag ?? 0)
                    pendingGauge.record(info.pending)
                }
            } catch {
                logger.warning("maintenance failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Sleeps `duration`, waking early on graceful shutdown: a process stops its runners one after
    /// another, and must not wait out a claim interval for each.
    private func sleepUnlessStopping(_ duration: Duration) async {
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
    }

    /// Dead-letters idle entries delivered `maxDeliveries` times, then claims and runs the other idle ones.
    func reclaim(as consumer: String) async throws {
        let idle = try await redis.send(XPENDING(stream, group: group, count: 1000, minIdle: settings.claimMinIdle))
        // Entries idle in another process: it may have died mid-transaction, its writes still
        // locked on the server. Abort what it left open before running them here. (XINFO CONSUMERS
        // cannot tell a live process from a dead one on Redis 7.0: its idle time counts from the
        // consumer's last read that returned something. A live process whose entry failed loses
        // its open transactions too; they are retried.)
        for process in Set(idle.map { StreamNames.process(ofConsumer: $0.consumer) }) where process != consumerPrefix {
            do {
                let sessions = try await fence.fence(process, client: processor.database.client)
                if sessions > 0 {
                    logger.info("aborted what an idle process left open", metadata: ["process": "\(process)", "sessions": "\(sessions)"])
                }
            } catch {
                logger.warning("aborting an idle process's sessions failed", metadata: ["process": "\(process)", "error": "\(error)"])
            }
        }
        var deliveries: [String: Int] = [:]
        for entry in idle where !isInFlight(entry.id) {
            deliveries[entry.id] = entry.deliveryCount
            guard entry.deliveryCount >= settings.maxDeliveries else { continue }
            try await deadLetterExhausted(entry)
        }
        // Nothing idle but our own slow batches: claiming would only count deliveries that did not happen.
        guard idle.contains(where: { !isInFlight($0.id) }) else { return }
        var start = "0-0"
        repeat {
            let claimed = try await redis.send(
                XAUTOCLAIM(stream, group: group, consumer: consumer, minIdle: settings.claimMinIdle, start: start, count: settings.batchSize))
            // Trimmed while pending (Redis has dropped them from the pending list); one still in our
            // hands was read whole, and its batch answers it.
            for id in claimed.deletedIDs where !isInFlight(id) { await deadLetterTrimmed(id, deliveries: deliveries[id] ?? 1) }
            // Entries still in our own hands (a slow batch) are left to the batch that has them.
            let orphaned = claimed.entries.filter { !isInFlight($0.id) }
            if !orphaned.isEmpty {
                logger.info("reclaimed idle entries", metadata: ["count": "\(orphaned.count)"])
                track(orphaned)
                await handle(orphaned, deliveries: deliveries.mapValues { $0 + 1 })
            }
            start = claimed.nextStart
        } while start != "0-0" && !isStopping
    }

    private func removeIdleConsumers() async throws {
        let limit = Int(settings.idleConsumerTimeout.wholeMilliseconds)
        for consumer in try await redis.send(XINFO_CONSUMERS(stream, group: group))
        where consumer.pending == 0 && consumer.idleMilliseconds > limit && !consumer.name.hasPrefix(consumerPrefix + "-") {
            _ = try await redis.send(XGROUP_DELCONSUMER(stream, group: group, consumer: consumer.name))
            logger.info("removed idle consumer", metadata: ["consumer": "\(consumer.name)"])
        }
    }
}

