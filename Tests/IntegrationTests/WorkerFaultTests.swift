import Foundation
import MessageBus
import WorkerRuntime
import Mongo
import Redis
import TestService
import TestSupport
import Testing

/// Faults with real processes: `billing worker test` is started, SIGKILLed and SIGTERMed.
@Suite("Worker processes killed and stopped", .serialized)
struct WorkerFaultTests {
    @Test func aSIGKILLedWorkersEntriesAreReclaimedAndEveryEffectExistsOnce() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        let worker = try await h.startWorkerProcess(environment: ["BILLING_BATCH_SIZE": "4", "BILLING_CLAIM_IDLE_MS": "60000"])
        var commands: [Envelope] = []
        for i in 0..<40 {
            let c = h.command("test.slow", .object(["key": .string("k\(i)"), "ms": .number("60")]))
            commands.append(c)
            h.router.expect(c.id)
        }
        for c in commands { try await h.bus.send(c, to: TestHandlers.name) }

        // Let it get going, then kill it while it holds unacknowledged entries.
        #expect(try await h.eventually { try await h.items().count([:]) >= 6 })
        // Kill it the moment it is seen holding entries (between batches it briefly holds none).
        var held = 0
        _ = try await h.eventually(timeout: .seconds(10)) {
            held = try await h.redis.send(XPENDING_SUMMARY(h.stream, group: TestHandlers.name)).count
            return held > 0
        }
        kill(worker.processIdentifier, SIGKILL)
        await ChildProcess.waitForExit(worker)
        #expect(worker.terminationReason == .uncaughtSignal)
        #expect(held > 0, "the worker should have held pending entries when it was killed")
        let doneBeforeRestart = try await h.items().count([:])
        #expect(doneBeforeRestart < 40)

        // A second worker reclaims what the dead one held.
        h.startRunner {
            $0.claimMinIdle = .milliseconds(300)
            $0.claimInterval = .milliseconds(100)
        }
        var replies: [Reply] = []
        for c in commands {
            if let reply = await h.router.wait(for: c.id, timeout: .seconds(60)) { replies.append(reply) }
        }
        if replies.count != 40 {
            // Where the missing replies went: the operation state (stored with the reply, in the
            // same script as the ack) and the router's reply streams.
            let answered = Set(replies.map(\.id))
            var streamText = ""
            for stream in h.router.streams {
                for entry in try await h.redis.send(XRANGE(stream, start: "-", end: "+")) { streamText += entry.fields.description }
            }
            let entries = try await h.redis.send(XRANGE(h.stream, start: "-", end: "+"))
            let dead = try await h.redis.send(XRANGE(h.names.deadLetters(TestHandlers.name), start: "-", end: "+"))
            let ledger = h.database.collection(MessagingStore.processed, as: BSONDocument.self)
            for c in commands where !answered.contains(c.id) {
                let state = try await h.redis.send(GET(ReplyPublisher(redis: h.redis, names: h.names).operationKey(c.id)))
                let entryID = entries.first { $0.fields[CommandBus.envelopeField]?.contains(c.id) == true }?.id ?? "none"
                let processed = try await ledger.findOne(["_id": .string("\(TestHandlers.name):\(c.id)")])
                Issue.record(
                    """
                    no reply for \(c.id) (stream entry \(entryID)): operation state \(state.map { String(decoding: $0, as: UTF8.self) } ?? "missing"); \
                    in a reply stream: \(streamText.contains(c.id)); late replies dropped: \(h.router.droppedReplies); \
                    ledger: \(processed.map { "\($0)" } ?? "none"); dead letters: \(dead.map(\.fields))
                    """)
            }
            Issue.record("what the in-process runner logged: \(h.captured.text.suffix(6000))")
        }
        #expect(replies.count == 40, "every command gets its reply; the killed worker logged: \(h.workerLogs().suffix(4000))")
        #expect(replies.allSatisfy { $0.status == .succeeded })
        let counts = try await h.effectCounts()
        if counts.count != 40 {
            let missing = commands.filter { counts[$0.id] == nil }.map(\.id)
            let pending = try await h.redis.send(XPENDING(h.stream, group: TestHandlers.name, count: 100))
            let dead = try await h.redis.send(XRANGE(h.names.deadLetters(TestHandlers.name), start: "-", end: "+"))
            Issue.record("no effect for \(missing); pending now: \(pending.map(\.id)); dead letters: \(dead.map(\.fields))")
        }
        #expect(counts.count == 40)
        #expect(counts.values.allSatisfy { $0 == 1 }, "no effect twice: \(counts.filter { $0.value != 1 })")
        #expect(try await h.eventually { try await h.redis.send(XPENDING_SUMMARY(h.stream, group: TestHandlers.name)).count == 0 })
    }

    @Test func aWorkerKilledMidTransactionDoesNotHoldUpTheReclaimedCommand() async throws {
        // The killed worker's transaction stays open on the server (for MongoDB's transaction
        // lifetime, 60 s), holding a write the command's next delivery makes too: the reclaiming
        // consumer aborts the dead process's sessions first instead of waiting into write conflicts.
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        let worker = try await h.startWorkerProcess(environment: ["BILLING_BATCH_SIZE": "1", "BILLING_TEST_HANG_MS": "120000"])
        let command = h.command("test.hang", .object(["key": .string("held")]))
        h.router.expect(command.id)
        try await h.bus.send(command, to: TestHandlers.name)
        #expect(await h.eventually { h.workerLogs().contains("test.hang: holding a transaction open") })
        kill(worker.processIdentifier, SIGKILL)
        await ChildProcess.waitForExit(worker)
        #expect(try await h.items().count([:]) == 0, "nothing the killed worker wrote is committed")

        let started = ContinuousClock.now
        h.startRunner { $0.claimMinIdle = .milliseconds(300) }
        let reply = await h.router.wait(for: command.id, timeout: .seconds(20))
        let waited = ContinuousClock.now - started
        #expect(reply?.status == .succeeded, "the reclaimed command is answered well within the server's 60 s transaction lifetime; the runner logged: \(h.captured.text.suffix(3000))")
        #expect(h.captured.text.contains("aborted what an idle process left open"))
        #expect(try await h.effectCounts() == [command.id: 1])
        print("reclaimed command answered \(waited) after the restart")
    }

    @Test func aSIGTERMedWorkerFinishesAndAcksWhatItHoldsAndLeavesNothingPending() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        let worker = try await h.startWorkerProcess(environment: ["BILLING_BATCH_SIZE": "8"])
        // About 6 s of work (300 × 20 ms): SIGTERM arrives mid-backlog even on a loaded machine.
        for i in 0..<300 {
            try await h.bus.send(
                h.command("test.slow", .object(["key": .string("t\(i)"), "ms": .number("20")]), replyTo: false),
                to: TestHandlers.name)
        }
        #expect(try await h.eventually { try await h.items().count([:]) >= 20 })
        kill(worker.processIdentifier, SIGTERM)
        let exited = await h.eventually(timeout: .seconds(30)) { !worker.isRunning }
        #expect(exited, "the worker should exit on SIGTERM")
        if exited { #expect(worker.terminationStatus == 0) }

        let summary = try await h.redis.send(XPENDING_SUMMARY(h.stream, group: TestHandlers.name))
        #expect(summary.count == 0, "entries left pending by the stopped worker: \(summary.consumers)")
        let processedByFirst = try await h.items().count([:])
        #expect(processedByFirst < 300, "the worker stopped before finishing the backlog")

        // The rest is processed by the next worker, each once.
        h.startRunner()
        #expect(try await h.eventually(timeout: .seconds(90)) { try await h.items().count([:]) >= 300 })
        let counts = try await h.effectCounts()
        #expect(counts.count == 300 && counts.values.allSatisfy { $0 == 1 })
    }

    @Test func pendingEntriesWhosePayloadWasTrimmedAreDeadLetteredAndAcknowledged() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        try await h.redis.send(XGROUP_CREATE(h.stream, group: TestHandlers.name, id: "0", makeStream: true))
        let id = try await h.bus.send(h.command("test.insert", .object(["key": .string("gone")]), replyTo: false), to: TestHandlers.name)
        // A consumer reads it and dies; then retention trims the entry away.
        _ = try await h.redis.send(XREADGROUP(group: TestHandlers.name, consumer: "dead-1", streams: [(h.stream, ">")]))
        try await h.redis.send(XDEL(h.stream, ids: [id]))
        #expect(try await h.redis.send(XPENDING_SUMMARY(h.stream, group: TestHandlers.name)).count == 1)
        h.startRunner {
            $0.claimMinIdle = .milliseconds(100)
            $0.claimInterval = .milliseconds(50)
            $0.idleConsumerTimeout = .milliseconds(200)
        }
        #expect(try await h.eventually { try await h.redis.send(XPENDING_SUMMARY(h.stream, group: TestHandlers.name)).count == 0 })
        // Its sender was never answered: it is dead-lettered, not dropped without a trace. (XAUTOCLAIM
        // itself drops a deleted entry from the pending list, a moment before the runner writes its letter.)
        let admin = StreamAdmin(redis: h.redis, names: h.names)
        #expect(try await h.eventually { try await !admin.deadLetters(service: TestHandlers.name).isEmpty })
        let letters = try await admin.deadLetters(service: TestHandlers.name)
        #expect(letters.map(\.originalID) == [id])
        #expect(letters.first?.error.contains("trimmed from the stream before it was processed") == true)
        // The dead consumer, now holding nothing and idle, is removed from the group.
        #expect(
            try await h.eventually {
                try await h.redis.send(XINFO_CONSUMERS(h.stream, group: TestHandlers.name)).allSatisfy { $0.name != "dead-1" }
            })
    }
}
