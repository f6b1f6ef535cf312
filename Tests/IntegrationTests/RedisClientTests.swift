import Foundation
import NIOPosix
import Redis
import Testing

@Suite("Redis client against a real redis-server")
struct RedisClientTests {
    @Test func pipelinedCommandsAnswerInOrderWithErrorsAsValues() async throws {
        let redis = try RedisTestEnvironment.client()
        defer { Task { await redis.shutdown() } }
        let p = RedisTestEnvironment.prefix()

        #expect(try await redis.pipeline([]) == [])
        let replies = try await redis.pipeline([
            ["SET", RedisArgument(p + "a"), "1"], ["INCR", RedisArgument(p + "a")], ["LPUSH", RedisArgument(p + "a"), "x"],
            ["MGET", RedisArgument(p + "a"), RedisArgument(p + "missing")], ["GET", RedisArgument(p + "a")],
        ])
        #expect(replies.count == 5)
        #expect(replies[0] == .simpleString("OK") && replies[1] == .integer(2))
        guard case .error(let message) = replies[2] else {
            Issue.record("LPUSH on a string should answer an error, got \(replies[2])")
            return
        }
        #expect(message.hasPrefix("WRONGTYPE"))
        #expect(replies[3] == .array([.bulkString(Array("2".utf8)), .null]))
        #expect(replies[4] == .bulkString(Array("2".utf8)))
        // Groups and single commands sent at once from many tasks each get their own replies.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask {
                    if i.isMultiple(of: 2) {
                        let r = try await redis.pipeline([["INCR", RedisArgument(p + "n\(i)")], ["INCR", RedisArgument(p + "n\(i)")]])
                        #expect(r == [.integer(1), .integer(2)])
                    } else {
                        #expect(try await redis.send(INCR(p + "n\(i)", by: i)) == i)
                    }
                }
            }
            try await group.waitForAll()
        }
        _ = try await redis.deleteKeys(prefix: p)
    }

    @Test func keyValueCommands() async throws {
        let redis = try RedisTestEnvironment.client()
        defer { Task { await redis.shutdown() } }
        let p = RedisTestEnvironment.prefix()

        #expect(try await redis.send(PING()) == "PONG")
        #expect(try await redis.send(GET(p + "missing")) == nil)
        #expect(try await redis.send(SET(p + "k", value: "v1")))
        #expect(try await redis.send(GET(p + "k")) == Array("v1".utf8))
        #expect(try await redis.send(SET(p + "k", value: "v2", condition: .ifNotExists)) == false)
        #expect(try await redis.send(SET(p + "k", value: "v3", condition: .ifExists)))
        #expect(try await redis.send(SET(p + "other", value: "x", condition: .ifExists)) == false)
        #expect(try await redis.send(GET(p + "k")) == Array("v3".utf8))

        #expect(try await redis.send(SET(p + "ex", value: "1", expiry: .seconds(100))))
        let ttl = try await redis.send(PTTL(p + "ex"))
        #expect(ttl > 90_000 && ttl <= 100_000)
        #expect(try await redis.send(SET(p + "px", value: "1", expiry: .milliseconds(60))))
        try await Task.sleep(for: .milliseconds(150))
        #expect(try await redis.send(GET(p + "px")) == nil)

        #expect(try await redis.send(PEXPIRE(p + "k", after: .seconds(30))))
        #expect(try await redis.send(EXPIRE(p + "k", seconds: 60)))
        #expect(try await redis.send(PTTL(p + "k")) > 30_000)
        #expect(try await redis.send(EXPIRE(p + "nope", seconds: 60)) == false)

        #expect(try await redis.send(INCR(p + "n")) == 1)
        #expect(try await redis.send(INCR(p + "n", by: 41)) == 42)

        #expect(try await redis.send(HSET(p + "h", fields: [("a", "1"), ("b", "2")])) == 2)
        #expect(try await redis.send(HGETALL(p + "h")) == ["a": "1", "b": "2"])
        #expect(try await redis.send(HGETALL(p + "none")) == [:])

        #expect(try await redis.send(EXISTS(p + "k", p + "h", p + "none")) == 2)
        #expect(try await redis.send(DEL(p + "k", p + "h", p + "none")) == 2)
        #expect(try await redis.send(EXISTS(p + "k")) == 0)
    }

    @Test func serverErrorsKeepTheirText() async throws {
        let redis = try RedisTestEnvironment.client()
        defer { Task { await redis.shutdown() } }
        let p = RedisTestEnvironment.prefix()
        try await redis.send(HSET(p + "h", fields: [("a", "1")]))
        let error = await #expect(throws: RedisError.self) { try await redis.send(INCR(p + "h")) }
        #expect(error?.code == .server)
        #expect(error?.serverErrorPrefix == "WRONGTYPE")
        // The connection is still usable afterwards.
        #expect(try await redis.send(PING()) == "PONG")
    }

    @Test func scriptsAreCachedAndReloadedAfterNOSCRIPT() async throws {
        let redis = try RedisTestEnvironment.client()
        defer { Task { await redis.shutdown() } }
        let p = RedisTestEnvironment.prefix()
        let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        #expect(try await redis.eval(script, keys: [p + "c"], arguments: ["5"]) == .integer(5))
        #expect(try await redis.eval(script, keys: [p + "c"], arguments: ["5"]) == .integer(10))
        try await redis.execute(["SCRIPT", "FLUSH"])
        #expect(try await redis.eval(script, keys: [p + "c"], arguments: ["1"]) == .integer(11))
        #expect(try await redis.send(EVAL("return ARGV[1]", arguments: ["hi"])) == .bulkString(Array("hi".utf8)))
    }

    @Test func streamsAndConsumerGroups() async throws {
        let redis = try RedisTestEnvironment.client()
        defer { Task { await redis.shutdown() } }
        let p = RedisTestEnvironment.prefix()
        let s = p + "stream"

        try await redis.send(XGROUP_CREATE(s, group: "g", id: "0", makeStream: true))
        let busy = await #expect(throws: RedisError.self) { try await redis.send(XGROUP_CREATE(s, group: "g")) }
        #expect(busy?.serverErrorPrefix == "BUSYGROUP")

        var ids: [String] = []
        for i in 0..<5 {
            let id = try #require(try await redis.send(XADD(s, fields: [("n", RedisArgument(i))], trim: .maxLength(1000))))
            ids.append(id)
        }
        #expect(try await redis.send(XLEN(s)) == 5)
        #expect(try await redis.send(XADD(p + "nostream", fields: [("a", "b")], noMakeStream: true)) == nil)

        let range = try await redis.send(XRANGE(s, count: 2))
        #expect(range.map(\.id) == Array(ids.prefix(2)))
        #expect(range.first?.fields == ["n": "0"])
        #expect(try await redis.send(XRANGE(s, start: "+", end: "-", count: 1, reverse: true)).map(\.id) == [ids[4]])

        let read = try await redis.send(XREADGROUP(group: "g", consumer: "c1", streams: [(s, ">")], count: 3))
        #expect(read.first?.entries.map(\.id) == Array(ids.prefix(3)))

        let summary = try await redis.send(XPENDING_SUMMARY(s, group: "g"))
        #expect(summary.count == 3 && summary.smallestID == ids[0] && summary.consumers == ["c1": 3])
        let pending = try await redis.send(XPENDING(s, group: "g", count: 10, consumer: "c1"))
        #expect(pending.map(\.id) == Array(ids.prefix(3)) && pending.allSatisfy { $0.deliveryCount == 1 })

        // c1's own pending entries are read again with id 0.
        let own = try await redis.send(XREADGROUP(group: "g", consumer: "c1", streams: [(s, "0")]))
        #expect(own.first?.entries.count == 3)

        #expect(try await redis.send(XACK(s, group: "g", ids: [ids[0]])) == 1)

        // Delete a pending entry's payload: XAUTOCLAIM reports it as deleted.
        #expect(try await redis.send(XDEL(s, ids: [ids[1]])) == 1)
        try await Task.sleep(for: .milliseconds(20))
        let claimed = try await redis.send(XAUTOCLAIM(s, group: "g", consumer: "c2", minIdle: .milliseconds(10)))
        #expect(claimed.entries.map(\.id) == [ids[2]])
        #expect(claimed.deletedIDs == [ids[1]])
        #expect(try await redis.send(XPENDING(s, group: "g", count: 10)).map(\.consumer) == ["c2"])

        let info = try await redis.send(XINFO_STREAM(s))
        #expect(info.length == 4 && info.groups == 1 && info.lastGeneratedID == ids[4] && info.firstEntryID == ids[0])
        let groups = try await redis.send(XINFO_GROUPS(s))
        #expect(groups.map(\.name) == ["g"])
        #expect(groups.first?.pending == 1 && groups.first?.consumers == 2 && groups.first?.lag == 2)
        let consumers = try await redis.send(XINFO_CONSUMERS(s, group: "g"))
        #expect(Set(consumers.map(\.name)) == ["c1", "c2"])
        #expect(consumers.first { $0.name == "c2" }?.pending == 1)

        #expect(try await redis.send(XGROUP_DELCONSUMER(s, group: "g", consumer: "c1")) == 0)
        try await redis.send(XGROUP_SETID(s, group: "g", id: "$"))
        #expect(try await redis.send(XINFO_GROUPS(s)).first?.lag == 0)

        #expect(try await redis.send(XTRIM(s, .maxLength(1, approximate: false))) == 3)
        #expect(try await redis.send(XLEN(s)) == 1)
        #expect(try await redis.send(XTRIM(s, .minID("999999999999999-0", approximate: false))) == 1)
    }

    @Test func blockingReadOnADedicatedConnectionWakesOnXADD() async throws {
        let redis = try RedisTestEnvironment.client()
        let reader = redis.makeDedicatedClient()
        defer { Task { await redis.shutdown(); await reader.shutdown() } }
        let s = RedisTestEnvironment.prefix() + "stream"
        try await redis.send(XGROUP_CREATE(s, group: "g", id: "$"))

        async let waited = reader.send(
            XREADGROUP(group: "g", consumer: "c", streams: [(s, ">")], count: 10, block: .seconds(5)))
        try await Task.sleep(for: .milliseconds(100))
        // The pipelined client is not held up by the blocked reader.
        #expect(try await redis.send(PING()) == "PONG")
        let id = try await redis.send(XADD(s, fields: [("hello", "world")]))
        let messages = try await waited
        #expect(messages.first?.entries.first?.id == id)
        #expect(messages.first?.entries.first?.fields == ["hello": "world"])

        // A BLOCK that times out returns nothing, not an error.
        let empty = try await reader.send(
            XREAD(streams: [(s, "$")], block: .milliseconds(50)))
        #expect(empty.isEmpty)
    }

    /// What the consumer runtime relies on to keep a burst in one batch: a blocked read is answered
    /// as soon as the first entry of a pipelined burst lands, and the immediate read sent behind it
    /// runs after the rest of the burst.
    @Test func aBlockingReadPairedWithAnImmediateOneTakesAWholeBurst() async throws {
        let redis = try RedisTestEnvironment.client()
        let reader = redis.makeDedicatedClient()
        defer { Task { await redis.shutdown(); await reader.shutdown() } }
        let s = RedisTestEnvironment.prefix() + "stream"
        try await redis.send(XGROUP_CREATE(s, group: "g", id: "$", makeStream: true))
        let blocking = XREADGROUP(group: "g", consumer: "c", streams: [(s, ">")], count: 1, block: .seconds(5))
        let immediate = XREADGROUP(group: "g", consumer: "c", streams: [(s, ">")], count: 10)

        // Wait until the first read is blocked in the server (other tests' consumers block on the
        // same server too: wait for one more blocked client than before, not for exactly one).
        func blockedClients() async throws -> Int {
            let info = try await redis.execute(["INFO", "clients"]).string ?? ""
            let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("blocked_clients:") }
            return line.flatMap { Int($0.dropFirst("blocked_clients:".count)) } ?? 0
        }
        let before = try await blockedClients()
        async let pair = reader.send(blocking, immediate)
        for _ in 0..<200 {
            if try await blockedClients() > before { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        let burst = try await redis.pipeline((0..<5).map { i in ["XADD", RedisArgument(s), "*", "n", RedisArgument(i)] })
        let (first, rest) = try await pair
        let ids = burst.compactMap(\.string)
        #expect(ids.count == 5)
        #expect(first.first?.entries.map(\.id) == Array(ids.prefix(1)))
        #expect(rest.first?.entries.map(\.id) == Array(ids.dropFirst()))

        // Nothing waiting and nothing coming: the blocking read times out, the immediate one finds nothing.
        let (none, nothing) = try await reader.send(
            XREADGROUP(group: "g", consumer: "c", streams: [(s, ">")], count: 1, block: .milliseconds(50)), immediate)
        #expect(none.isEmpty && nothing.isEmpty)
        // An error reply to either command is thrown.
        await #expect(throws: RedisError.self) {
            _ = try await reader.send(immediate, XREADGROUP(group: "missing", consumer: "c", streams: [(s, ">")], count: 1))
        }
        _ = try await redis.deleteKeys(prefix: String(s.dropLast("stream".count)))
    }

    @Test func xreadWithoutGroups() async throws {
        let redis = try RedisTestEnvironment.client()
        defer { Task { await redis.shutdown() } }
        let s = RedisTestEnvironment.prefix() + "stream"
        let first = try #require(try await redis.send(XADD(s, fields: [("a", "1")])))
        let second = try #require(try await redis.send(XADD(s, fields: [("a", "2")])))
        let read = try await redis.send(XREAD(streams: [(s, first)], count: 10))
        #expect(read.first?.stream == s && read.first?.entries.map(\.id) == [second])
    }

    @Test func thousandConcurrentCommandsArePipelinedAndAllAnswered() async throws {
        let redis = try RedisTestEnvironment.client(connections: 2)
        defer { Task { await redis.shutdown() } }
        let p = RedisTestEnvironment.prefix()
        let results = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
            for i in 0..<1000 {
                group.addTask {
                    try await redis.send(SET(p + "\(i)", value: RedisArgument("v\(i)")))
                    let v = try await redis.send(GET(p + "\(i)"))
                    return (i, v.map { String(decoding: $0, as: UTF8.self) })
                }
            }
            var all: [Int: String?] = [:]
            for try await (i, v) in group { all[i] = v }
            return all
        }
        #expect(results.count == 1000)
        #expect(results.allSatisfy { $0.value == "v\($0.key)" })
    }

    @Test func tasksOnAnEventLoopUseTheConnectionThereAndResumeThere() async throws {
        let redis = try RedisTestEnvironment.client(connections: max(2, EventLoopTaskExecutor.shared.count))
        defer { Task { await redis.shutdown() } }
        let p = RedisTestEnvironment.prefix()
        // Many tasks per loop, each checking after every await that it is still on its loop.
        let stayed = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<200 {
                let executor = EventLoopTaskExecutor.shared[i % EventLoopTaskExecutor.shared.count]
                group.addTask(executorPreference: executor) {
                    var onLoop = MultiThreadedEventLoopGroup.currentEventLoop === executor.loop
                    try await redis.send(SET(p + "\(i)", value: RedisArgument("v\(i)")))
                    onLoop = onLoop && MultiThreadedEventLoopGroup.currentEventLoop === executor.loop
                    let value = try await redis.send(GET(p + "\(i)"))
                    onLoop = onLoop && MultiThreadedEventLoopGroup.currentEventLoop === executor.loop
                    return onLoop && value.map { String(decoding: $0, as: UTF8.self) } == "v\(i)"
                }
            }
            var all: [Bool] = []
            for try await result in group { all.append(result) }
            return all
        }
        #expect(stayed.count == 200)
        #expect(stayed.allSatisfy { $0 })
        // A dedicated client made on a loop connects there.
        let executor = EventLoopTaskExecutor.next()
        let dedicated = redis.makeDedicatedClient(on: executor.loop)
        defer { Task { await dedicated.shutdown() } }
        let pong = try await withTaskExecutorPreference(executor) {
            let reply = try await dedicated.send(PING())
            return (reply, MultiThreadedEventLoopGroup.currentEventLoop === executor.loop)
        }
        #expect(pong.1)
    }

    @Test func deleteKeysRemovesExactlyThePrefixedKeys() async throws {
        let redis = try RedisTestEnvironment.client()
        defer { Task { await redis.shutdown() } }
        let p = RedisTestEnvironment.prefix()
        for i in 0..<2500 { try await redis.send(SET("\(p):k\(i)", value: "v")) }
        try await redis.send(SET("\(p)*:glob", value: "v"))  // a glob character in a prefix is literal
        try await redis.send(SET("\(p)-other", value: "kept"))
        #expect(try await redis.deleteKeys(prefix: p + ":") == 2500)
        #expect(try await redis.send(EXISTS("\(p):k0", "\(p):k2499")) == 0)
        #expect(try await redis.deleteKeys(prefix: p + "*:") == 1)
        #expect(try await redis.send(GET("\(p)-other")).map { String(decoding: $0, as: UTF8.self) } == "kept")
    }

    @Test func aBlockingReadLongerThanTheCommandTimeoutIsNotCutShort() async throws {
        // The watchdog's deadline for a BLOCK read is the block time plus the command timeout.
        // A timeout of 1 s (200 ms once failed a PING on a machine loaded by a parallel build).
        let redis = try RedisTestEnvironment.client(connections: 1, commandTimeout: .seconds(1))
        defer { Task { await redis.shutdown() } }
        let stream = RedisTestEnvironment.prefix() + "s"
        let started = ContinuousClock.now
        let dedicated = redis.makeDedicatedClient()
        defer { Task { await dedicated.shutdown() } }
        let read = try await dedicated.send(XREAD(streams: [(stream, "$")], block: .milliseconds(2500)))
        #expect(read.isEmpty)
        #expect(ContinuousClock.now - started >= .milliseconds(2450))
        // Many pipelined commands complete, each within the timeout; none is failed by the watchdog.
        let replies = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<500 { group.addTask { try await redis.send(PING()) } }
            var all: [String] = []
            for try await reply in group { all.append(reply) }
            return all
        }
        #expect(replies.count == 500 && replies.allSatisfy { $0 == "PONG" })
    }

    @Test func aSlowReplyTimesOutWithATypedError() async throws {
        // A timeout of 1 s (200 ms once failed a PING on a machine loaded by a parallel build).
        let redis = try RedisTestEnvironment.client(connections: 1, commandTimeout: .seconds(1))
        defer { Task { await redis.shutdown() } }
        let key = RedisTestEnvironment.prefix() + "list"
        let error = await #expect(throws: RedisError.self) { try await redis.execute(["BLPOP", RedisArgument(key), "2"]) }
        #expect(error?.code == .timeout)
        // The client reconnects for the next command.
        #expect(try await redis.send(PING()) == "PONG")
    }

    @Test func anUnreachableServerIsATypedErrorNotAHang() async throws {
        let port = try FreePort.find()
        let redis = RedisClient(configuration: try RedisConfiguration(url: "redis://127.0.0.1:\(port)"))
        defer { Task { await redis.shutdown() } }
        let started = ContinuousClock.now
        let error = await #expect(throws: RedisError.self) { try await redis.send(PING()) }
        #expect(error?.code == .connectionFailed)
        // While backing off it fails fast with `.unavailable`.
        let again = await #expect(throws: RedisError.self) { try await redis.send(PING()) }
        #expect(again?.code == .unavailable || again?.code == .connectionFailed)
        // Bounded by the connect timeout (2 s), not by the 5 s command timeout or a retry loop; the
        // margin is for a loaded machine (this is a bound, not a speed measurement).
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test func recoversAfterTheServerIsKilledAndRestarted() async throws {
        let server = try RedisServerProcess()
        try await server.start()
        var configuration = try RedisConfiguration(url: server.url)
        configuration.maxReconnectBackoff = .milliseconds(200)
        let redis = RedisClient(configuration: configuration)
        defer { Task { await redis.shutdown() } }
        #expect(try await redis.send(SET("k", value: "before")))

        server.kill()
        let error = await #expect(throws: RedisError.self) { try await redis.send(GET("k")) }
        let failureCodes: [RedisError.Code] = [.connectionClosed, .connectionFailed, .unavailable]
        #expect(error.map { failureCodes.contains($0.code) } == true)

        try await server.start()
        var recovered = false
        for _ in 0..<50 {
            if (try? await redis.send(SET("k", value: "after"))) == true {
                recovered = true
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(recovered, "the client never reconnected after redis-server came back")
        #expect(try await redis.send(GET("k")) == Array("after".utf8))
        server.kill()
    }

    @Test func authenticatesAndSelectsTheDatabaseFromTheURL() async throws {
        let server = try RedisServerProcess(extraArguments: ["--requirepass", "s3cret-pw"])
        try await server.start()
        defer { server.kill() }

        let redis = RedisClient(configuration: try RedisConfiguration(url: "redis://:s3cret-pw@127.0.0.1:\(server.port)/3"))
        defer { Task { await redis.shutdown() } }
        #expect(try await redis.send(SET("where", value: "db3")))
        #expect(try await redis.execute(["CLIENT", "INFO"]).string?.contains("db=3") == true)

        let wrong = RedisClient(configuration: try RedisConfiguration(url: "redis://:nope@127.0.0.1:\(server.port)/0"))
        defer { Task { await wrong.shutdown() } }
        let error = await #expect(throws: RedisError.self) { try await wrong.send(PING()) }
        #expect(error?.code == .connectionFailed)
        #expect(error.map { !$0.message.contains("nope") } == true, "the password must not appear in errors")
    }
}
