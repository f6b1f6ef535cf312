import Crypto
import Foundation
import Logging
import MessageBus
import Mongo
import Redis
import Synchronization
import TestService
import TestSupport
import Testing
import WorkerTestSupport

@testable import WorkerRuntime

/// Issue 17, item 12: answers, trimmed entries, the outbox relay and restarted workers, against the
/// real servers.
@Suite("Worker runtime hardening", .serialized)
struct RuntimeHardeningTests {
    // MARK: XACK only after the reply was written

    @Test func anEntryWhoseReplyCannotBeWrittenStaysPendingAndIsAnsweredOnceItCan() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        // The waiting gateway's reply stream key holds a string: every XADD to it fails (WRONGTYPE).
        let replyStream = h.names.replies("blocked")
        try await h.redis.send(SET(replyStream, value: "not a stream"))
        h.startRunner { $0.maxDeliveries = 1000 }
        let command = Envelope(
            type: "test.insert", replyTo: replyStream, principal: h.principal, payload: .object(["key": .string("r")]),
            createdAt: Date())
        let entryID = try await h.bus.send(command, to: TestHandlers.name)

        // It ran, its reply could not be written: it is not acknowledged, so it is not forgotten.
        #expect(try await h.eventually { try await h.effectCounts()[command.id] == 1 })
        #expect(await h.eventually { h.captured.text.contains("replies failed") })
        try await Task.sleep(for: .milliseconds(300))
        let pending = try await h.redis.send(
            XPENDING(h.stream, group: TestHandlers.name, start: entryID, end: entryID, count: 1))
        #expect(pending.count == 1, "acknowledged although its reply was never written")

        // Once the reply stream can be written, a reclaim answers it from the ledger, and acks it.
        try await h.redis.send(DEL(replyStream))
        #expect(try await h.eventually { try await h.redis.send(XLEN(replyStream)) > 0 })
        let written = try #require(try await h.redis.send(XRANGE(replyStream)).first?.fields[CommandBus.envelopeField])
        let reply = try MessageCoding.decode(Reply.self, from: written)
        #expect(reply.id == command.id && reply.status == .succeeded)
        #expect(
            try await h.eventually {
                try await h.redis.send(XPENDING_SUMMARY(h.stream, group: TestHandlers.name)).count == 0
            })
        #expect(try await h.effectCounts() == [command.id: 1])
        #expect(try await StreamAdmin(redis: h.redis, names: h.names).deadLetters(service: TestHandlers.name).isEmpty)
    }

    /// Item 12: a secret shown once (a rotated token) whose reply could not be published is sent
    /// whole on the redelivery, from the ledger's sealed copy, which goes once it is out.
    @Test func aSecretBearingReplyThatCouldNotBePublishedIsResentWholeFromTheSealedLedgerCopy() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        h.sealer = ReplySealer(deriving: SymmetricKey(size: .bits256))
        let replyStream = h.names.replies("blocked-secret")
        try await h.redis.send(SET(replyStream, value: "not a stream"))
        h.startRunner { $0.maxDeliveries = 1000 }
        let command = Envelope(
            type: TestCommands.Rotate.name, replyTo: replyStream, principal: h.principal, payload: .object([:]),
            createdAt: Date())
        try await h.bus.send(command, to: TestHandlers.name)
        #expect(await h.eventually { h.captured.text.contains("replies failed") })
        let ledger = h.database.collection(MessagingStore.processed, as: BSONDocument.self)
        let entry = try #require(try await ledger.findOne(["_id": .string("\(TestHandlers.name):\(command.id)")]))
        #expect(entry["sealed_reply"]?.stringValue?.isEmpty == false)
        #expect(entry["reply"]?.stringValue?.contains("tok_") == false, "the plain stored reply holds the secret")

        try await h.redis.send(DEL(replyStream))
        #expect(try await h.eventually { try await h.redis.send(XLEN(replyStream)) > 0 })
        let written = try #require(try await h.redis.send(XRANGE(replyStream)).first?.fields[CommandBus.envelopeField])
        let reply = try MessageCoding.decode(Reply.self, from: written)
        let token = try #require(try await h.items().find(["command_id": .string(command.id)]).first?.key)
        #expect(reply.result == .object(["token": .string(token)]))
        #expect(
            try await h.eventually {
                try await ledger.findOne(["_id": .string("\(TestHandlers.name):\(command.id)")])?["sealed_reply"] == nil
            })
    }

    // MARK: Entries trimmed before they were processed

    @Test func anEntryTrimmedWhileAnotherConsumerHeldItIsDeadLettered() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        try await h.redis.send(XGROUP_CREATE(h.stream, group: TestHandlers.name, id: "0", makeStream: true))
        let lost = h.command("test.insert", .object(["key": .string("lost")]), replyTo: false)
        let lostID = try await h.bus.send(lost, to: TestHandlers.name)
        // A consumer reads it and dies; retention then trims it away (MAXLEN keeps the newer one).
        _ = try await h.redis.send(XREADGROUP(group: TestHandlers.name, consumer: "dead-1", streams: [(h.stream, ">")]))
        let kept = h.command("test.insert", .object(["key": .string("kept")]), replyTo: false)
        try await h.bus.send(kept, to: TestHandlers.name)
        #expect(try await h.redis.send(XTRIM(h.stream, .maxLength(1, approximate: false))) == 1)

        h.startRunner {
            $0.claimMinIdle = .milliseconds(100)
            $0.claimInterval = .milliseconds(50)
        }
        let admin = StreamAdmin(redis: h.redis, names: h.names)
        #expect(try await h.eventually { try await admin.deadLetters(service: TestHandlers.name).count == 1 })
        let letter = try #require(try await admin.deadLetters(service: TestHandlers.name).first)
        #expect(letter.originalID == lostID)
        #expect(letter.error.contains("trimmed from the stream before it was processed"))
        #expect(letter.deliveries >= 1)
        #expect(try await h.eventually { try await admin.pending(service: TestHandlers.name).isEmpty })
        #expect(try await h.eventually { try await h.effectCounts() == [kept.id: 1] })
        #expect(h.captured.text.contains("message dead-lettered"))
    }

    @Test func anEntryTrimmedWhileTheRestartedConsumerItselfHeldItIsDeadLettered() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        let process = "ghost-\(UUID().uuidString.prefix(6))"
        try await h.redis.send(XGROUP_CREATE(h.stream, group: TestHandlers.name, id: "0", makeStream: true))
        let lost = h.command("test.insert", .object(["key": .string("lost")]), replyTo: false)
        let lostID = try await h.bus.send(lost, to: TestHandlers.name)
        // The previous life of this process read it and died; it is read back with id 0 as [id, nil].
        _ = try await h.redis.send(
            XREADGROUP(group: TestHandlers.name, consumer: "\(process)-0", streams: [(h.stream, ">")]))
        try await h.bus.send(h.command("test.insert", .object(["key": .string("kept")]), replyTo: false), to: TestHandlers.name)
        #expect(try await h.redis.send(XTRIM(h.stream, .maxLength(1, approximate: false))) == 1)

        // Idle entries are not reclaimed in this test: only the consumer's own drain sees it.
        h.startRunner(process: process) { $0.claimMinIdle = .seconds(60) }
        let admin = StreamAdmin(redis: h.redis, names: h.names)
        #expect(try await h.eventually { try await admin.deadLetters(service: TestHandlers.name).count == 1 })
        let letter = try #require(try await admin.deadLetters(service: TestHandlers.name).first)
        #expect(letter.originalID == lostID)
        #expect(letter.error.contains("trimmed from the stream before it was processed"))
        #expect(try await h.eventually { try await admin.pending(service: TestHandlers.name).isEmpty })
    }

    // MARK: The delivery limit on a restarted worker's own entries

    @Test func aWorkerRestartedWithItsOldNameDeadLettersItsOwnEntriesAtTheDeliveryLimit() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        let process = "ghost-\(UUID().uuidString.prefix(6))"
        let consumer = "\(process)-0"
        try await h.redis.send(XGROUP_CREATE(h.stream, group: TestHandlers.name, id: "0", makeStream: true))
        // Two entries the previous life of this process (same host, same pid) was handed 3 times,
        // each time dying on it (as a poison message that crashes the process would).
        let exhausted = (0..<2).map { h.command("test.insert", .object(["key": .string("x\($0)")]), replyTo: false) }
        var exhaustedIDs: Set<String> = []
        for c in exhausted { exhaustedIDs.insert(try await h.bus.send(c, to: TestHandlers.name)) }
        _ = try await h.redis.send(XREADGROUP(group: TestHandlers.name, consumer: consumer, streams: [(h.stream, ">")]))
        for _ in 0..<2 {
            _ = try await h.redis.send(XREADGROUP(group: TestHandlers.name, consumer: consumer, streams: [(h.stream, "0")]))
        }
        // And one it was handed once.
        let fresh = h.command("test.insert", .object(["key": .string("fresh")]), replyTo: false)
        try await h.bus.send(fresh, to: TestHandlers.name)
        _ = try await h.redis.send(XREADGROUP(group: TestHandlers.name, consumer: consumer, streams: [(h.stream, ">")]))
        let counts = try await h.redis.send(XPENDING(h.stream, group: TestHandlers.name, count: 10, consumer: consumer))
        #expect(counts.map(\.deliveryCount) == [3, 3, 1])

        // The process starts again under the same name; idle entries are not reclaimed in this test.
        h.startRunner(process: process) {
            $0.maxDeliveries = 3
            $0.claimMinIdle = .seconds(60)
        }
        let admin = StreamAdmin(redis: h.redis, names: h.names)
        #expect(try await h.eventually { try await h.effectCounts()[fresh.id] == 1 })
        #expect(try await h.eventually { try await admin.deadLetters(service: TestHandlers.name).count == 2 })
        let letters = try await admin.deadLetters(service: TestHandlers.name)
        #expect(Set(letters.map(\.originalID)) == exhaustedIDs)
        #expect(letters.allSatisfy { $0.deliveries == 3 && $0.error.contains("failed 3 deliveries") })
        // Dead-lettered, not run.
        #expect(try await h.effectCounts() == [fresh.id: 1])
        #expect(try await h.eventually { try await admin.pending(service: TestHandlers.name).isEmpty })
    }

    // MARK: The outbox relay

    @Test func anUnreadableOutboxEntryIsDeadLetteredAndTheOthersArePublishedOnce() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        let outbox = h.database.collection(MessagingStore.outbox, as: BSONDocument.self)
        let start = Date()
        var good: [String] = []
        var documents: [BSONDocument] = []
        for i in 0..<5 {
            let at = start.addingTimeInterval(Double(i))
            switch i {
            case 1:  // not JSON
                documents.append([
                    "_id": "bad-json", "type": "test.happened", "envelope": "{not json", "created_at": .datetime(at),
                ])
            case 3:  // no envelope at all
                documents.append(["_id": "no-envelope", "type": "test.happened", "created_at": .datetime(at)])
            default:
                let (id, document) = try outboxEvent(h, i, at: at)
                good.append(id)
                documents.append(document)
            }
        }
        _ = try await outbox.insertMany(documents)

        h.services.start(
            OutboxRelay(
                database: h.database, bus: h.bus, pollInterval: .milliseconds(20),
                logger: h.captured.logger("test.outbox")))
        #expect(try await h.eventually { try await outbox.count([:]) == 0 })
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await publishedIDs(h) == good)
        let letters = try await StreamAdmin(redis: h.redis, names: h.names).deadLetters(service: "outbox")
        #expect(letters.map(\.originalID) == ["bad-json", "no-envelope"])
        #expect(letters.first?.envelope == "{not json")
        #expect(letters.first?.error.contains("malformed envelope") == true)
        #expect(letters.last?.error.contains("envelope") == true)
    }

    @Test func aRelayWhoseLeaseRanOutMidBatchStopsAndEveryEntryIsPublishedOnce() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        let outbox = h.database.collection(MessagingStore.outbox, as: BSONDocument.self)
        let start = Date()
        var ids: [String] = []
        var documents: [BSONDocument] = []
        for i in 0..<20 {
            let at = start.addingTimeInterval(Double(i) / 1000)
            let (id, document) = try outboxEvent(h, i, at: at)
            ids.append(id)
            documents.append(document)
        }
        _ = try await outbox.insertMany(documents)

        // The first relay stalls after reading its first batch (a long pause) far beyond its lease:
        // until the second one, which takes the lease once it ran out, has emptied the outbox.
        let pause = PauseProbe()
        let stalled = OutboxRelay(
            database: h.database, bus: h.bus, pollInterval: .milliseconds(20), batchSize: 5,
            leaseTime: .milliseconds(300), logger: h.captured.logger("test.outbox.stalled"),
            afterRead: {
                guard pause.enter() else { return }
                let until = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < until, (try? await outbox.count([:])) != 0 {
                    try? await Task.sleep(for: .milliseconds(20))
                }
                try? await Task.sleep(for: .milliseconds(100))
                pause.leave()
            })
        h.services.start(stalled)
        #expect(await h.eventually(timeout: .seconds(10)) { pause.entered })
        h.services.start(
            OutboxRelay(
                database: h.database, bus: h.bus, pollInterval: .milliseconds(20), batchSize: 5,
                leaseTime: .milliseconds(300), logger: h.captured.logger("test.outbox.other")))

        #expect(try await h.eventually { try await outbox.count([:]) == 0 })
        #expect(await h.eventually { pause.left })
        try await Task.sleep(for: .milliseconds(500))
        let published = try await publishedIDs(h)
        #expect(published.count == ids.count, "published \(published.count) times for \(ids.count) entries")
        #expect(Set(published) == Set(ids))
        #expect(h.captured.text.contains("outbox relay lost its lease"))
    }

    /// An outbox document holding a `test.happened` event, as a handler's transaction writes it.
    private func outboxEvent(_ h: MessagingHarness, _ n: Int, at: Date) throws -> (String, BSONDocument) {
        let event = Envelope(type: "test.happened", principal: h.principal, payload: .object(["n": .number("\(n)")]), createdAt: at)
        let json = String(decoding: try MessageCoding.encode(event), as: UTF8.self)
        return (event.id, ["_id": .string(event.id), "type": "test.happened", "envelope": .string(json), "created_at": .datetime(at)])
    }

    /// The envelope IDs on the events stream, in order.
    private func publishedIDs(_ h: MessagingHarness) async throws -> [String] {
        try await h.redis.send(XRANGE(h.names.events)).map {
            try MessageCoding.decode(Envelope.self, from: try #require($0.fields[CommandBus.envelopeField])).id
        }
    }
}

/// Whether the stalled relay is in its pause, and was (its first batch only).
private final class PauseProbe: Sendable {
    private let state = Mutex<(entered: Bool, left: Bool)>((false, false))

    /// True the first time: that call pauses.
    func enter() -> Bool {
        state.withLock { state in
            if state.entered { return false }
            state.entered = true
            return true
        }
    }

    func leave() { state.withLock { $0.left = true } }
    var entered: Bool { state.withLock { $0.entered } }
    var left: Bool { state.withLock { $0.left } }
}

extension MessagingHarness {
    /// An in-process runner whose consumers are named `<process>-n`: this process restarted with
    /// the name (host and pid) an earlier one had.
    @discardableResult
    func startRunner(process: String, _ configure: (inout ConsumerSettings) -> Void) -> RunningService {
        let settings = TestStack.settings {
            $0.claimInterval = .milliseconds(100)
            configure(&$0)
        }
        var logger = captured.logger("test.consumer")
        logger.logLevel = .debug
        let runner = ConsumerGroupRunner(
            stream: names.commands(TestHandlers.name), group: TestHandlers.name,
            deadLetterStream: names.deadLetters(TestHandlers.name), processor: processor(), redis: redis, names: names,
            settings: settings, retention: StreamRetention(), wallClock: SystemBillingClock(), processName: process,
            logger: logger)
        return services.start(runner)
    }
}
