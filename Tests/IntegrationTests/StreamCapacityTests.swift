import Foundation
import MessageBus
import Mongo
import Redis
import TestService
import TestSupport
import Testing
import WorkerTestSupport

@testable import WorkerRuntime

/// Issue 17, item 5: streams bounded by size as well as age, without ever dropping work a group has
/// not processed; dead letters trimmed; a full stream refuses instead of dropping.
@Suite("Stream capacity and trimming", .serialized)
struct StreamCapacityTests {
    /// `count` entries on `stream`, oldest first.
    private func add(_ h: MessagingHarness, _ stream: String, _ count: Int) async throws -> [String] {
        var ids: [String] = []
        for i in 0..<count {
            ids.append(try #require(try await h.redis.send(XADD(stream, fields: [("n", RedisArgument(String(i)))]))))
        }
        return ids
    }

    /// Reads `read` entries as `group` and acknowledges the first `ack` of them.
    private func consume(_ h: MessagingHarness, _ stream: String, group: String, read: Int, ack: Int) async throws {
        try await h.redis.send(XGROUP_CREATE(stream, group: group, id: "0"))
        let got = try await h.redis.send(XREADGROUP(group: group, consumer: "c", streams: [(stream, ">")], count: read))
        let ids = got.flatMap { $0.entries.map(\.id) }
        #expect(ids.count == read)
        if ack > 0 { try await h.redis.send(XACK(stream, group: group, ids: Array(ids.prefix(ack)))) }
    }

    private func remaining(_ h: MessagingHarness, _ stream: String) async throws -> [String] {
        try await h.redis.send(XRANGE(stream)).map(\.id)
    }

    @Test func oldEntriesAreTrimmedOnlyOnceEveryGroupHasProcessedThem() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        let stream = h.names.commands("trimmed")
        let ids = try await add(h, stream, 10)
        // Group a: 6 delivered, 4 acknowledged (2 pending, 4 never delivered). Group b: 8 delivered and acknowledged.
        try await consume(h, stream, group: "a", read: 6, ack: 4)
        try await consume(h, stream, group: "b", read: 8, ack: 8)

        // Everything is far past its age; only what both groups processed may go.
        let janitor = StreamJanitor(redis: h.redis, streams: [(stream, .seconds(7 * 86_400))], deadLetterStreams: [], retention: StreamRetention())
        let trimmed = try await janitor.pass(now: Date().addingTimeInterval(30 * 86_400))
        #expect(trimmed[stream] == 4)
        #expect(try await remaining(h, stream) == Array(ids.dropFirst(4)))

        // Once group a acknowledged its pending two and read the rest, only b's two unread entries stay.
        let got = try await h.redis.send(XREADGROUP(group: "a", consumer: "c", streams: [(stream, ">")], count: 10))
        try await h.redis.send(XACK(stream, group: "a", ids: Array(ids[4..<6]) + got.flatMap { $0.entries.map(\.id) }))
        _ = try await janitor.pass(now: Date().addingTimeInterval(30 * 86_400))
        #expect(try await remaining(h, stream) == Array(ids.suffix(2)))
    }

    @Test func aStreamNobodyConsumesYetKeepsEverythingHoweverOld() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        let stream = h.names.commands("unconsumed")
        let ids = try await add(h, stream, 5)
        let janitor = StreamJanitor(
            redis: h.redis, streams: [(stream, .seconds(7 * 86_400))], deadLetterStreams: [], retention: StreamRetention(retainedEntries: 0))
        #expect(try await janitor.pass(now: Date().addingTimeInterval(365 * 86_400)).isEmpty)
        #expect(try await remaining(h, stream) == ids)
    }

    @Test func processedHistoryIsCappedByCountButTheBacklogIsNot() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        let stream = h.names.commands("counted")
        let ids = try await add(h, stream, 10)
        try await consume(h, stream, group: "g", read: 10, ack: 10)
        let janitor = StreamJanitor(
            redis: h.redis, streams: [(stream, .seconds(7 * 86_400))], deadLetterStreams: [], retention: StreamRetention(retainedEntries: 3))
        // Within the 7 days: the count alone trims, keeping the newest three.
        #expect(try await janitor.pass()[stream] == 7)
        #expect(try await remaining(h, stream) == Array(ids.suffix(3)))

        // A backlog of 6 unprocessed entries beyond the count: the processed three go, the six stay.
        let backlog = try await add(h, stream, 6)
        #expect(try await janitor.pass()[stream] == 3)
        #expect(try await remaining(h, stream) == backlog)
    }

    @Test func deadLettersAreTrimmedByAgeAndCount() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        let dlq = h.names.deadLetters("trimmed")
        let old = try await add(h, dlq, 3)
        var janitor = StreamJanitor(
            redis: h.redis, streams: [], deadLetterStreams: [dlq],
            retention: StreamRetention(deadLetters: .seconds(86_400), deadLetterMaxEntries: 4))
        janitor.logger = h.captured.logger("test.janitor")
        #expect(try await janitor.pass().isEmpty)  // young, and within the count
        let newer = try await add(h, dlq, 3)
        #expect(try await janitor.pass()[dlq] == 2)  // six, four kept
        #expect(try await remaining(h, dlq) == Array((old + newer).suffix(4)))
        #expect(try await janitor.pass(now: Date().addingTimeInterval(2 * 86_400))[dlq] == 4)  // all past a day
        #expect(h.captured.text.contains("dead letters past their retention were deleted"))
    }

    @Test func aFullStreamRefusesAnAppendAndTheOutboxKeepsItsEntriesUntilThereIsRoom() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        let bus = CommandBus(redis: h.redis, names: h.names, retention: StreamRetention(retainedEntries: 0, maxEntries: 3))
        let filler = try await add(h, h.names.events, 3)

        let at = Date()
        let event = Envelope(type: "test.happened", principal: h.principal, payload: .object([:]), createdAt: at)
        await #expect(throws: StreamFull.self) { _ = try await bus.publish(event) }
        #expect(try await h.redis.send(XLEN(h.names.events)) == 3)

        // The relay: the event waits in the outbox (in order), a command to another stream flows.
        let outbox = h.database.collection(MessagingStore.outbox, as: BSONDocument.self)
        let command = Envelope(type: TestCommands.Echo.name, principal: h.principal, payload: .object([:]), createdAt: at)
        _ = try await outbox.insertMany([
            ["_id": .string(event.id), "type": "test.happened", "envelope": .string(String(decoding: try MessageCoding.encode(event), as: UTF8.self)), "created_at": .datetime(at)],
            [
                "_id": .string(command.id), "type": .string(command.type), "service": .string(TestHandlers.name),
                "envelope": .string(String(decoding: try MessageCoding.encode(command), as: UTF8.self)),
                "created_at": .datetime(at.addingTimeInterval(0.001)),
            ],
        ])
        h.services.start(
            OutboxRelay(database: h.database, bus: bus, pollInterval: .milliseconds(20), logger: h.captured.logger("test.outbox")))
        #expect(try await h.eventually { try await h.redis.send(XLEN(h.stream)) == 1 })
        #expect(try await outbox.count([:]) == 1)
        #expect(await h.eventually { h.captured.text.contains("streams at their capacity") })

        // Room again (the filler was processed and trimmed): the event goes out.
        try await h.redis.send(XDEL(h.names.events, ids: filler))
        #expect(try await h.eventually { try await outbox.count([:]) == 0 })
        let published = try await h.redis.send(XRANGE(h.names.events)).compactMap { $0.fields[CommandBus.envelopeField] }
        #expect(try published.map { try MessageCoding.decode(Envelope.self, from: $0).id } == [event.id])
    }

    @Test func anOperationKeepsAtMostItsCapOfResultWhileTheWaitingGatewayGetsItAll() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        var publisher = ReplyPublisher(redis: h.redis, names: h.names)
        publisher.maxStoredResultBytes = 1_000
        let replyTo = h.names.replies("cap-test")
        let command = Envelope(type: TestCommands.Echo.name, replyTo: replyTo, principal: h.principal, payload: .object([:]), createdAt: Date())
        let big = JSONValue.object(["id": .string("x_1"), "text": .string(String(repeating: "a", count: 5_000))])
        try await publisher.publish(Reply.success(to: command, status: 201, result: big, at: Date()), for: command)

        let stored = try #require(try await h.redis.send(GET(publisher.operationKey(command.id))))
        #expect(stored.count < 1_000)
        let record = try MessageCoding.decode(OperationRecord.self, from: Data(stored))
        #expect(record.reply.httpStatus == 201)
        guard case .object(let omitted)? = record.reply.result else { Issue.record("no result object"); return }
        #expect(omitted["object"] == JSONValue.string("result_omitted"))
        let delivered = try #require(try await h.redis.send(XRANGE(replyTo)).first?.fields[CommandBus.envelopeField])
        #expect(try MessageCoding.decode(Reply.self, from: delivered).result == big)
    }

    @Test func aDeadLetterRetryIntoAFullStreamIsRefusedAndTheLetterKept() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        let admin = StreamAdmin(redis: h.redis, names: h.names, retention: StreamRetention(retainedEntries: 0, maxEntries: 2))
        let letter = try #require(
            try await h.redis.send(
                XADD(h.names.deadLetters(TestHandlers.name), fields: [(CommandBus.envelopeField, RedisArgument("{}"))])))
        _ = try await add(h, h.stream, 2)
        let refusal = await #expect(throws: StreamFull.self) { _ = try await admin.retryDeadLetters(service: TestHandlers.name) }
        // The admin route answers it as the edge does: 503 backlog_full, Retry-After 5.
        #expect(refusal?.problem.status == 503 && refusal?.problem.code == "backlog_full" && refusal?.problem.retryAfter == 5)
        #expect(try await admin.deadLetters(service: TestHandlers.name).map(\.id) == [letter])
        #expect(try await h.redis.send(XLEN(h.stream)) == 2)
    }
}
