import Foundation
import MessageBus
import Mongo
import Redis
import ServiceLifecycleTestKit
import Testing
import TestService
import WorkerRuntime
import WorkerTestSupport

@Suite("Messaging backbone against real Redis and SecantusDB", .serialized)
struct MessagingBackboneTests {
    @Test func aCommandRoundTripIsCorrelatedByID() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        h.startRunner()
        let command = h.command("test.insert", .object(["key": .string("k1")]))
        let reply = try #require(try await h.roundTrip(command))
        #expect(reply.id == command.id && reply.correlationID == command.correlationID)
        #expect(reply.status == .succeeded && reply.httpStatus == 201)
        #expect(reply.result == .object(["key": .string("k1")]))
        #expect(try await h.effectCounts() == [command.id: 1])
        // The result is also kept as the operation's state.
        let state = try #require(try await h.redis.send(GET(ReplyPublisher(redis: h.redis, names: h.names).operationKey(command.id))))
        let record = try MessageCoding.decode(OperationRecord.self, from: Data(state))
        #expect(record.reply == reply && record.subject == "usr_test")
    }

    @Test func thousandConcurrentRoundTripsAreAllMatched() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        h.startRunner { $0.consumers = 2 }
        let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<1000 {
                group.addTask {
                    let command = h.command("test.echo", .object(["n": .number("\(i)")]))
                    let reply = try await h.roundTrip(command)
                    return reply?.result == .object(["n": .number("\(i)")]) && reply?.id == command.id ? 0 : 1
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }

    @Test func theSameEnvelopeDeliveredTwiceHasOneEffectAndTheSameReply() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        h.startRunner()
        let command = h.command("test.insert", .object(["key": .string("dup")]))
        let first = try #require(try await h.roundTrip(command))
        let second = try #require(try await h.roundTrip(command))
        #expect(first == second)
        #expect(try await h.effectCounts() == [command.id: 1])
    }

    @Test func aRefusalIsRecordedSoARedeliveryAnswersTheSame() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        h.startRunner()
        let command = h.command("test.refuse")
        let first = try #require(try await h.roundTrip(command))
        #expect(first.status == .failed && first.httpStatus == 422 && first.error?.param == "key")
        let again = try #require(try await h.roundTrip(command))
        #expect(again == first)
    }

    @Test func anExpiredCommandIsAnsweredWithATimeoutAndNotExecuted() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        h.startRunner()
        let command = h.command("test.insert", .object(["key": .string("late")]), deadline: Date().addingTimeInterval(-1))
        let reply = try #require(try await h.roundTrip(command))
        #expect(reply.httpStatus == 504 && reply.error?.code == "deadline_exceeded")
        #expect(try await h.effectCounts().isEmpty)
    }

    @Test func malformedEntriesAreDeadLetteredAtOnceAndDoNotBlockTheStream() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        try await h.redis.send(XADD(h.stream, fields: [("envelope", "not json")]))
        try await h.redis.send(XADD(h.stream, fields: [("other", "x")]))
        try await h.bus.send(h.command("test.nonexistent"), to: TestHandlers.name)
        h.startRunner()
        let good = try #require(try await h.roundTrip(h.command("test.insert", .object(["key": .string("after")]))))
        #expect(good.status == .succeeded)
        let admin = StreamAdmin(redis: h.redis, names: h.names)
        let letters = try await admin.deadLetters(service: TestHandlers.name)
        #expect(letters.count == 3)
        #expect(letters[0].error.contains("malformed envelope") && letters[0].envelope == "not json")
        #expect(letters[1].error.contains("no 'envelope' field"))
        #expect(letters[2].error.contains("unknown type 'test.nonexistent'"))
        // The reply is published before the ack: nothing stays pending once the ack follows.
        #expect(try await h.eventually { try await admin.pending(service: TestHandlers.name).isEmpty })
    }

    @Test func aPoisonMessageIsDeadLetteredAfterMaxDeliveriesAndRetriedOnceFixed() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        h.startRunner {
            $0.maxDeliveries = 3
            $0.claimMinIdle = .milliseconds(150)
            $0.claimInterval = .milliseconds(50)
        }
        let poison = h.command("test.fail", replyTo: false)
        try await h.bus.send(poison, to: TestHandlers.name)
        var behind: [Envelope] = []
        for i in 0..<5 {
            let c = h.command("test.insert", .object(["key": .string("b\(i)")]), replyTo: false)
            behind.append(c)
            try await h.bus.send(c, to: TestHandlers.name)
        }
        let admin = StreamAdmin(redis: h.redis, names: h.names)
        #expect(try await h.eventually { try await admin.deadLetters(service: TestHandlers.name).count == 1 })
        let letter = try #require(try await admin.deadLetters(service: TestHandlers.name).first)
        #expect(letter.deliveries >= 3)
        #expect(letter.error.contains("broken until flags/fixed exists"))
        // The commands behind it were not blocked: each ran once, and nothing stays pending.
        let expected = Dictionary(uniqueKeysWithValues: behind.map { ($0.id, 1) })
        #expect(try await h.eventually { try await h.effectCounts() == expected })
        #expect(try await h.effectCounts() == expected)
        #expect(try await h.eventually { try await admin.pending(service: TestHandlers.name).isEmpty })

        // Fix the handler's precondition, retry the dead letter: it runs once.
        _ = try await h.database.collection("flags", as: BSONDocument.self).insertOne(["_id": "fixed"])
        #expect(try await admin.retryDeadLetters(service: TestHandlers.name) == 1)
        #expect(try await h.eventually { try await h.effectCounts()[poison.id] == 1 })
        #expect(try await admin.deadLetters(service: TestHandlers.name).isEmpty)
    }

    @Test func aBatchSlowerThanTheClaimIdleTimeIsNotReclaimedByItsOwnRunner() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        // Queued first, so the runner reads them as one batch: 8 × 100 ms, four times the claim idle time.
        let commands = (0..<8).map { h.command("test.slow", .object(["key": .string("s\($0)"), "ms": .number("100")])) }
        for c in commands {
            h.router.expect(c.id)
            try await h.bus.send(c, to: TestHandlers.name)
        }
        h.startRunner {
            $0.batchSize = 8
            $0.claimMinIdle = .milliseconds(200)
            $0.claimInterval = .milliseconds(50)
        }
        for c in commands { #expect(await h.router.wait(for: c.id, timeout: .seconds(30))?.status == .succeeded) }
        #expect(!h.captured.text.contains("reclaimed idle entries"), "the runner took its own batch back: \(h.captured.text.suffix(2000))")
        #expect(try await h.effectCounts().count == 8)
    }

    @Test func gracefulShutdownFinishesAndAcknowledgesTheBatchInHandThenStops() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        // One batch of 6 × 150 ms, queued before the runner starts; shutdown is triggered while it runs.
        let commands = (0..<6).map { h.command("test.slow", .object(["key": .string("g\($0)"), "ms": .number("150")])) }
        for c in commands {
            h.router.expect(c.id)
            try await h.bus.send(c, to: TestHandlers.name)
        }
        var settings = ConsumerSettings()
        settings.block = .milliseconds(200)
        settings.batchSize = 6
        let runner = ConsumerGroupRunner(
            service: TestHandlers.name, processor: h.processor(), redis: h.redis, names: h.names, settings: settings,
            logger: h.captured.logger("test.consumer"))
        let started = ContinuousClock.now
        try await testGracefulShutdown { trigger in
            async let running: Void = runner.run()
            // The batch is in hand once the group shows it pending.
            #expect(await h.eventually(timeout: .seconds(10)) {
                (try? await StreamAdmin(redis: h.redis, names: h.names).pending(service: TestHandlers.name).count) == 6
            })
            trigger.triggerGracefulShutdown()  // what SIGTERM does in `billing worker`
            try await running
        }
        // It drained before returning: every command committed once, answered, acknowledged.
        #expect(try await h.effectCounts().count == 6)
        for c in commands { #expect(await h.router.wait(for: c.id, timeout: .seconds(1))?.status == .succeeded) }
        #expect(try await StreamAdmin(redis: h.redis, names: h.names).pending(service: TestHandlers.name).isEmpty)
        #expect(ContinuousClock.now - started < .seconds(10), "stopping must not wait out a claim interval")
        // A new command after the stop stays unread: the runner no longer consumes.
        let late = h.command("test.insert", .object(["key": .string("late")]))
        try await h.bus.send(late, to: TestHandlers.name)
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await h.effectCounts()[late.id] == nil)
    }

    @Test func tenThousandCommandsQueuedWhileNoWorkerRunsAreAllProcessed() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        let total = 10_000
        var ids = Set<String>()
        try await withThrowingTaskGroup(of: String.self) { group in
            for chunk in 0..<20 {
                group.addTask {
                    for i in 0..<(total / 20) {
                        let c = h.command("test.insert", .object(["key": .string("q\(chunk)-\(i)")]), replyTo: false)
                        try await h.bus.send(c, to: TestHandlers.name)
                    }
                    return ""
                }
            }
            for try await _ in group {}
        }
        #expect(try await h.redis.send(XLEN(h.stream)) == total)
        h.startRunner {
            $0.consumers = 2
            $0.batchSize = 100
        }
        #expect(try await h.eventually(timeout: .seconds(240)) { try await h.items().count([:]) >= total })
        let counts = try await h.effectCounts()
        ids = Set(counts.keys)
        #expect(ids.count == total && counts.values.allSatisfy { $0 == 1 })
        #expect(try await h.eventually { try await StreamAdmin(redis: h.redis, names: h.names).pending(service: TestHandlers.name).isEmpty })
    }

    @Test func replayOfAProcessedRangeChangesNothingAndReappliesWhatWasLost() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        let runner = h.startRunner()
        var commands: [Envelope] = []
        for i in 0..<30 {
            let c = h.command("test.insert", .object(["key": .string("r\(i)")]))
            commands.append(c)
            #expect(try await h.roundTrip(c)?.status == .succeeded)
        }
        await runner.stop()
        let replayer = Replayer(redis: h.redis, processor: h.processor(), pageSize: 7)
        let first = try await replayer.replay(stream: h.stream)
        #expect(first == Replayer.Summary(applied: 0, alreadyApplied: 30))
        #expect(try await h.items().count([:]) == 30)

        // A restore from an older backup: the last 10 commands' documents and ledger entries are gone.
        let lost = commands.suffix(10).map(\.id)
        _ = try await h.items().deleteMany(["command_id": ["$in": .array(lost.map { .string($0) })]])
        _ = try await h.database.collection(MessagingStore.processed, as: BSONDocument.self).deleteMany([
            "_id": ["$in": .array(lost.map { .string("\(TestHandlers.name):\($0)") })]
        ])
        let second = try await replayer.replay(stream: h.stream)
        #expect(second == Replayer.Summary(applied: 10, alreadyApplied: 20))
        let counts = try await h.effectCounts()
        #expect(counts.count == 30 && counts.values.allSatisfy { $0 == 1 })
    }

    @Test func outboxEventsSurviveARelayThatWasNotRunningAndAreConsumedOnceInEffect() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        h.startRunner()
        // Commands commit their events to the outbox; no relay runs, as if it died right after the commit.
        var commands: [Envelope] = []
        for i in 0..<5 {
            let c = h.command("test.emit", .object(["key": .string("e\(i)")]))
            commands.append(c)
            #expect(try await h.roundTrip(c)?.status == .succeeded)
        }
        let outbox = h.database.collection(MessagingStore.outbox, as: BSONDocument.self)
        #expect(try await outbox.count([:]) == 5)
        #expect(try await h.redis.send(EXISTS(h.names.events)) == 0)

        let relay = OutboxRelay(database: h.database, bus: h.bus)
        #expect(try await relay.publishPending() == 5)
        #expect(try await outbox.count([:]) == 0)
        // A relay that crashed after XADD but before deleting publishes again: duplicates on the stream.
        let published = try await h.redis.send(XRANGE(h.names.events))
        for entry in published.prefix(2) {
            try await h.redis.send(XADD(h.names.events, fields: entry.fields.map { ($0.key, RedisArgument($0.value)) }))
        }
        #expect(try await h.redis.send(XLEN(h.names.events)) == 7)

        // An event consumer dedupes by event id: each event has one effect.
        var registry = HandlerRegistry()
        registry.writeEvery { context in
            _ = try context.transaction.collection("seen", as: BSONDocument.self).insertOne([
                "event_id": .string(context.envelope.id), "type": .string(context.envelope.type),
            ])
            return HandlerResult(body: .null)
        }
        let processor = CommandProcessor(group: "projection", registry: registry, database: h.database, redis: h.redis)
        let consumer = ConsumerGroupRunner(
            stream: h.names.events, group: "projection", deadLetterStream: h.names.deadLetters("projection"),
            processor: processor, redis: h.redis, names: h.names)
        h.services.start(consumer)
        let seen = h.database.collection("seen", as: BSONDocument.self)
        #expect(try await h.eventually { try await seen.count([:]) >= 5 })
        try await Task.sleep(for: .milliseconds(500))
        let docs = try await seen.find([:])
        #expect(docs.count == 5)
        #expect(Set(docs.compactMap { $0["event_id"]?.stringValue }).count == 5)
        #expect(docs.allSatisfy { $0["type"]?.stringValue == "test.happened" })
    }

    /// An event group that ignores most events answers them as reads (`readEvery`, as `auth-events`
    /// does); it must not delete them from the shared events stream, where another group (the
    /// webhook worker, down for an outage) and a replay still need them.
    @Test func anEventGroupIgnoringEventsLeavesThemForTheOtherGroups() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        h.startRunner()
        for i in 0..<5 {
            #expect(try await h.roundTrip(h.command("test.emit", .object(["key": .string("i\(i)")])))?.status == .succeeded)
        }
        #expect(try await OutboxRelay(database: h.database, bus: h.bus).publishPending() == 5)

        func runner(_ group: String, _ registry: HandlerRegistry) -> ConsumerGroupRunner {
            ConsumerGroupRunner(
                stream: h.names.events, group: group, deadLetterStream: h.names.deadLetters(group),
                processor: CommandProcessor(group: group, registry: registry, database: h.database, redis: h.redis),
                redis: h.redis, names: h.names, settings: TestStack.settings { $0.publishesReplies = false })
        }
        // The ignoring group reads and settles all five first (its ledger has them) while the other is down.
        var ignoring = HandlerRegistry()
        ignoring.readEvery { _, _ in HandlerResult(status: 204, body: .null) }
        _ = try await h.redis.send(XGROUP_CREATE(h.names.events, group: "late", id: "0", makeStream: true))
        h.services.start(runner("ignoring", ignoring))
        #expect(
            try await h.eventually {
                let last = try await h.redis.send(XRANGE(h.names.events)).last?.id
                let group = try await h.redis.send(XINFO_GROUPS(h.names.events)).first { $0.name == "ignoring" }
                return last != nil && group?.lastDeliveredID == last && group?.pending == 0
            })
        #expect(try await h.redis.send(XLEN(h.names.events)) == 5)

        // The late group, started now, still gets every event.
        var recording = HandlerRegistry()
        recording.writeEvery { context in
            _ = try context.transaction.collection("late_seen", as: BSONDocument.self).insertOne([
                "event_id": .string(context.envelope.id)
            ])
            return HandlerResult(body: .null)
        }
        h.services.start(runner("late", recording))
        let seen = h.database.collection("late_seen", as: BSONDocument.self)
        #expect(try await h.eventually { try await seen.count([:]) >= 5 })
        #expect(try await seen.count([:]) == 5)
    }

    @Test func aCommandSentToAnotherServiceGoesThroughTheOutboxOnlyAfterCommit() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        h.startRunner()
        let forward = h.command("test.forward", .object(["key": .string("forwarded")]))
        #expect(try await h.roundTrip(forward)?.httpStatus == 202)
        // Committed to the outbox with its target service, not yet on any stream or applied.
        let outbox = h.database.collection(MessagingStore.outbox, as: BSONDocument.self)
        let entries = try await outbox.find([:])
        #expect(entries.count == 1)
        #expect(entries.first?["service"]?.stringValue == TestHandlers.name)
        #expect(try await h.items().count(["key": "forwarded"]) == 0)
        // The relay sends it to the service's command stream (not billing:events); the worker applies it once.
        let relay = OutboxRelay(database: h.database, bus: h.bus)
        #expect(try await relay.publishPending() == 1)
        #expect(try await h.redis.send(EXISTS(h.names.events)) == 0)
        #expect(try await h.eventually { try await h.items().count(["key": "forwarded"]) == 1 })
        let applied = try await h.items().find(["key": "forwarded"])
        #expect(applied.first?.commandID == "fwd-\(forward.id)")
    }

    @Test func afterCommitActionsRunOnlyForACommitAndNotOnARedelivery() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        h.startRunner()
        let key = "\(h.names.prefix):marked"
        let mark = h.command("test.mark", .object(["key": .string("m"), "redis_key": .string(key)]))
        #expect(try await h.roundTrip(mark)?.httpStatus == 201)
        #expect(try await h.redis.send(GET(key)).map { String(decoding: $0, as: UTF8.self) } == "committed")
        // A redelivery is answered from the ledger: the action does not run again.
        _ = try await h.redis.send(DEL(key))
        #expect(try await h.roundTrip(mark)?.httpStatus == 201)
        #expect(try await h.redis.send(EXISTS(key)) == 0)
        // A refused command rolls back, and its action never runs.
        let refusedKey = "\(h.names.prefix):refused"
        let refused = h.command("test.mark", .object(["key": .string("r"), "redis_key": .string(refusedKey), "fail": .bool(true)]))
        #expect(try await h.roundTrip(refused)?.httpStatus == 422)
        #expect(try await h.redis.send(EXISTS(refusedKey)) == 0)
        #expect(try await h.items().count(["key": "r"]) == 0)
    }
}
