import NIOCore
import NIOEmbedded
import Testing

@testable import Redis

/// The connection against a fake socket: the test reads what it writes and plays Redis's replies,
/// and moves the event loop's clock by hand for the watchdog.
@Suite("RedisConnection over NIOAsyncTestingChannel", .timeLimit(.minutes(1)))
struct RedisConnectionChannelTests {
    /// A channel that looks connected to Redis, and a connection over it (commands time out after 1 s).
    private func connect(
        _ configuration: RedisConfiguration = RedisConfiguration(commandTimeout: .seconds(1))
    ) async throws -> (RedisConnection, NIOAsyncTestingChannel) {
        let channel = NIOAsyncTestingChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6379))
        return (try await RedisConnection.connect(over: channel, configuration: configuration), channel)
    }

    /// The next buffer the connection wrote to the socket, as text.
    private func written(_ channel: NIOAsyncTestingChannel) async throws -> String {
        String(buffer: try await channel.waitForOutboundWrite(as: ByteBuffer.self))
    }

    /// Redis's side: `text` arrives on the socket in one read.
    private func receive(_ text: String, on channel: NIOAsyncTestingChannel) async throws {
        try await channel.writeInbound(ByteBuffer(string: text))
    }

    /// How many commands wait for a reply, read on the channel's loop (nothing runs there meanwhile).
    private func waiting(_ connection: RedisConnection, _ channel: NIOAsyncTestingChannel) async throws -> Int? {
        try await channel.testingEventLoop.executeInContext { connection.pipeline.value?.waitingCount }
    }

    /// The error a command's task ended with; nil if it succeeded.
    private func failure<Success>(of task: Task<Success, any Error>) async -> RedisError? {
        switch await task.result {
        case .success: return nil
        case .failure(let error): return (error as? RedisError) ?? RedisError(.server, "not a RedisError: \(error)")
        }
    }

    // MARK: Round trips

    @Test func aCommandIsWrittenAsRESPAndItsReplyAnswersIt() async throws {
        let (connection, channel) = try await connect()
        let get = Task { try await connection.execute(["GET", "greeting"]) }
        #expect(try await written(channel) == "*2\r\n$3\r\nGET\r\n$8\r\ngreeting\r\n")
        #expect(try await waiting(connection, channel) == 1)

        try await receive("$5\r\nhello\r\n", on: channel)
        #expect(try await get.value == .bulkString(Array("hello".utf8)))
        #expect(try await waiting(connection, channel) == 0)
        try await channel.close()
    }

    @Test func anErrorReplyFailsItsCommandOnlyAndTheConnectionGoesOn() async throws {
        let (connection, channel) = try await connect()
        let bad = Task { try await connection.execute(["INCR", "name"]) }
        _ = try await written(channel)
        try await receive("-ERR value is not an integer or out of range\r\n", on: channel)
        let error = await failure(of: bad)
        #expect(error == RedisError(.server, "ERR value is not an integer or out of range"))
        #expect(error?.serverErrorPrefix == "ERR")

        let ping = Task { try await connection.execute(["PING"]) }
        #expect(try await written(channel) == "*1\r\n$4\r\nPING\r\n")
        try await receive("+PONG\r\n", on: channel)
        #expect(try await ping.value == .simpleString("PONG"))
        #expect(connection.isActive)
        try await channel.close()
    }

    @Test func aSessionSetupAuthenticatesAndSelectsTheDatabaseBeforeTheConnectionIsHandedOut() async throws {
        let channel = NIOAsyncTestingChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6379))
        let configuration = RedisConfiguration(username: "billing", password: "s3cret", database: 3)
        let setUp = Task { try await RedisConnection.connect(over: channel, configuration: configuration) }

        #expect(try await written(channel) == "*3\r\n$4\r\nAUTH\r\n$7\r\nbilling\r\n$6\r\ns3cret\r\n")
        try await receive("+OK\r\n", on: channel)
        #expect(try await written(channel) == "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n")
        try await receive("+OK\r\n", on: channel)
        let connection = try await setUp.value
        #expect(connection.isActive)
        try await channel.close()
    }

    @Test func aRefusedAuthFailsTheSetupAndClosesTheChannel() async throws {
        let channel = NIOAsyncTestingChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6379))
        let setUp = Task { try await RedisConnection.connect(over: channel, configuration: RedisConfiguration(password: "wrong")) }

        _ = try await written(channel)
        try await receive("-WRONGPASS invalid username-password pair or user is disabled.\r\n", on: channel)
        let error = await failure(of: setUp)
        #expect(error?.code == .connectionFailed)
        #expect(error?.message.contains("WRONGPASS") == true)
        #expect(!channel.isActive)
    }

    // MARK: Partial reads and pipelining

    @Test(arguments: [1, 2, 5, 64])
    func aReplySplitOverReadsAnswersOnlyWhenComplete(chunk: Int) async throws {
        let (connection, channel) = try await connect()
        let range = Task { try await connection.execute(["XRANGE", "orders", "-", "+"]) }
        _ = try await written(channel)

        // One entry whose field value holds a CRLF: only the bulk length says where it ends.
        let wire = Array("*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$4\r\nnote\r\n$4\r\na\r\nb\r\n".utf8)
        var start = 0
        while start < wire.count {
            let end = min(start + chunk, wire.count)
            try await channel.writeInbound(ByteBuffer(bytes: wire[start..<end]))
            if end < wire.count {
                #expect(try await waiting(connection, channel) == 1, "answered after \(end) of \(wire.count) bytes")
            }
            start = end
        }
        #expect(try await waiting(connection, channel) == 0)
        let entry = RESPValue.array([
            .bulkString(Array("1-0".utf8)), .array([.bulkString(Array("note".utf8)), .bulkString(Array("a\r\nb".utf8))]),
        ])
        #expect(try await range.value == .array([entry]))
        try await channel.close()
    }

    @Test func severalRepliesInOneReadAnswerPipelinedCommandsInOrder() async throws {
        let (connection, channel) = try await connect()
        // One at a time, so the write order (and so the reply order) is known.
        let first = Task { try await connection.execute(["SET", "a", "1"]) }
        _ = try await written(channel)
        let second = Task { try await connection.execute(["INCR", "b"]) }
        _ = try await written(channel)
        let third = Task { try await connection.execute(["GET", "c"]) }
        _ = try await written(channel)
        #expect(try await waiting(connection, channel) == 3)

        try await receive("+OK\r\n:2\r\n$5\r\nthird\r\n", on: channel)
        #expect(try await first.value == .simpleString("OK"))
        #expect(try await second.value == .integer(2))
        #expect(try await third.value == .bulkString(Array("third".utf8)))
        try await channel.close()
    }

    @Test func repliesStraddlingReadsAnswerEachCommandWhenItsReplyIsComplete() async throws {
        let (connection, channel) = try await connect()
        let first = Task { try await connection.execute(["ECHO", "first"]) }
        _ = try await written(channel)
        let second = Task { try await connection.execute(["ECHO", "second"]) }
        _ = try await written(channel)
        let third = Task { try await connection.execute(["ECHO", "third"]) }
        _ = try await written(channel)

        try await receive("$5\r\nfir", on: channel)
        #expect(try await waiting(connection, channel) == 3)
        try await receive("st\r\n$6\r\nsecond\r\n$5\r\nth", on: channel)
        #expect(try await waiting(connection, channel) == 1)
        #expect(try await first.value == .bulkString(Array("first".utf8)))
        #expect(try await second.value == .bulkString(Array("second".utf8)))
        try await receive("ird\r\n", on: channel)
        #expect(try await third.value == .bulkString(Array("third".utf8)))
        try await channel.close()
    }

    @Test func aPipelineGroupIsWrittenAtOnceAndGetsAllItsReplies() async throws {
        let (connection, channel) = try await connect()
        let group = Task { try await connection.pipeline([["SET", "k", "v"], ["GET", "k"], ["INCR", "k"]]) }
        #expect(
            try await written(channel)
                == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n")
        let ping = Task { try await connection.execute(["PING"]) }
        _ = try await written(channel)
        #expect(try await waiting(connection, channel) == 2)

        // Two of the group's three replies: the group still waits, and the PING behind it too.
        try await receive("+OK\r\n$1\r\nv\r\n", on: channel)
        #expect(try await waiting(connection, channel) == 2)
        try await receive("-ERR value is not an integer or out of range\r\n+PONG\r\n", on: channel)
        #expect(
            try await group.value == [
                .simpleString("OK"), .bulkString(Array("v".utf8)), .error("ERR value is not an integer or out of range"),
            ])
        #expect(try await ping.value == .simpleString("PONG"))
        try await channel.close()
    }

    // MARK: Failure fan-out

    /// Three commands in flight: a single one, a pipelined group, another single one.
    private func threeInFlight(_ connection: RedisConnection, _ channel: NIOAsyncTestingChannel) async throws
        -> [Task<Void, any Error>]
    {
        let tasks: [Task<Void, any Error>] = [
            Task { _ = try await connection.execute(["GET", "a"]) },
            Task { _ = try await connection.pipeline([["GET", "b"], ["GET", "c"]]) },
            Task { _ = try await connection.execute(["GET", "d"]) },
        ]
        // The three may go out in one write or several; wait until all are on the wire.
        while try await waiting(connection, channel) != 3 {
            _ = try await written(channel)
        }
        while try await channel.readOutbound(as: ByteBuffer.self) != nil {}
        return tasks
    }

    @Test func closingTheChannelFailsEveryCommandInFlightAndLaterOnes() async throws {
        let (connection, channel) = try await connect()
        let tasks = try await threeInFlight(connection, channel)

        try await channel.close()
        for task in tasks { #expect(await failure(of: task)?.code == .connectionClosed) }
        #expect(!connection.isActive)

        let later = Task { try await connection.execute(["PING"]) }
        #expect(await failure(of: later)?.code == .connectionClosed)
        #expect(try await channel.readOutbound(as: ByteBuffer.self) == nil)
    }

    struct SocketReset: Error {}

    @Test func anInboundErrorFailsEveryCommandInFlightAndClosesTheChannel() async throws {
        let (connection, channel) = try await connect()
        let tasks = try await threeInFlight(connection, channel)

        try await channel.testingEventLoop.executeInContext { channel.pipeline.fireErrorCaught(SocketReset()) }
        for task in tasks {
            let error = await failure(of: task)
            #expect(error?.code == .connectionClosed)
            #expect(error?.message.contains("SocketReset") == true)
        }
        #expect(!channel.isActive)

        // Later commands fail at once, with the error that broke the connection.
        let later = Task { try await connection.execute(["PING"]) }
        #expect(await failure(of: later)?.message.contains("SocketReset") == true)
    }

    @Test func aMalformedReplyFailsEveryCommandStillInFlightWithAProtocolError() async throws {
        let (connection, channel) = try await connect()
        let tasks = try await threeInFlight(connection, channel)

        // The first reply is fine; then a byte no RESP reply starts with.
        try await receive("$1\r\nA\r\n?oops\r\n", on: channel)
        #expect(await failure(of: tasks[0]) == nil)
        #expect(await failure(of: tasks[1])?.code == .protocolError)
        #expect(await failure(of: tasks[2])?.code == .protocolError)
        #expect(!channel.isActive)

        let later = Task { try await connection.execute(["PING"]) }
        #expect(await failure(of: later)?.code == .protocolError)
    }

    // MARK: Watchdog

    @Test func aCommandWithoutAReplyByItsDeadlineTimesOutAndClosesTheConnection() async throws {
        let (connection, channel) = try await connect(RedisConfiguration(commandTimeout: .seconds(1)))
        let tasks = try await threeInFlight(connection, channel)

        await channel.testingEventLoop.advanceTime(by: .milliseconds(950))
        #expect(try await waiting(connection, channel) == 3)
        #expect(channel.isActive)

        await channel.testingEventLoop.advanceTime(by: .milliseconds(100))
        for task in tasks { #expect(await failure(of: task)?.code == .timeout) }
        #expect(!channel.isActive)
        #expect(!connection.isActive)

        let later = Task { try await connection.execute(["PING"]) }
        #expect(await failure(of: later)?.code == .timeout)
    }

    @Test func theWatchdogLeavesAConnectionAloneWhileRepliesComeInTime() async throws {
        let (connection, channel) = try await connect(RedisConfiguration(commandTimeout: .seconds(1)))
        for round in 0..<5 {
            let ping = Task { try await connection.execute(["PING"]) }
            _ = try await written(channel)
            await channel.testingEventLoop.advanceTime(by: .milliseconds(900))
            try await receive("+PONG\r\n", on: channel)
            #expect(try await ping.value == .simpleString("PONG"), "round \(round)")
        }
        // Nothing in flight: idle time is no timeout.
        await channel.testingEventLoop.advanceTime(by: .seconds(60))
        #expect(channel.isActive)
        #expect(connection.isActive)
        try await channel.close()
    }

    @Test func aBlockingReadMayWaitItsBlockTimeBeforeTheCommandTimeoutStarts() async throws {
        let (connection, channel) = try await connect(RedisConfiguration(commandTimeout: .seconds(1)))
        let read = Task { try await connection.send(XREAD(streams: [("orders", "$")], block: .seconds(2))) }
        #expect(try await written(channel).contains("BLOCK\r\n$4\r\n2000\r\n"))

        await channel.testingEventLoop.advanceTime(by: .milliseconds(2900))
        #expect(channel.isActive)
        #expect(try await waiting(connection, channel) == 1)

        await channel.testingEventLoop.advanceTime(by: .milliseconds(200))
        #expect(await failure(of: read)?.code == .timeout)
        #expect(!channel.isActive)
    }
}
