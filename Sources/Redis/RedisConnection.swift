import Logging
import NIOCore
import NIOPosix
import Synchronization

/// One TCP connection to Redis. Commands sent concurrently are pipelined: written as they come,
/// answered in order. Safe to share between tasks; all channel work happens on its event loop.
public final class RedisConnection: Sendable {
    let channel: any Channel
    let commandTimeout: Duration
    /// The loop-confined state: waiters in write order, the reply parser.
    let pipeline: NIOLoopBoundBox<RedisPipeline?>
    /// Commands waiting to be written. Callers append; the first of a burst schedules one event-loop
    /// task that formats them all into one buffer and writes it with one flush (one syscall).
    private let outbox = Mutex<Outbox>(Outbox())
    /// Set the moment we decide to drop the connection, before the close has run on the event loop.
    private let closing = Atomic<Bool>(false)

    /// A command (or a pipelined group) on its way: its arguments, who waits for the reply, until when.
    struct Queued {
        /// One command's arguments, or several commands' (their replies are answered together).
        enum Commands {
            case one([RedisArgument])
            case many([[RedisArgument]])
        }

        let commands: Commands
        let waiter: RedisPipeline.Waiter
        let deadline: NIODeadline
    }

    private struct Outbox: ~Copyable {
        var commands: [Queued] = []
        var scheduled = false
    }

    private init(channel: any Channel, pipeline: NIOLoopBoundBox<RedisPipeline?>, commandTimeout: Duration) {
        self.channel = channel
        self.pipeline = pipeline
        self.commandTimeout = commandTimeout
    }

    /// Opens a connection, then authenticates and selects the database the configuration names.
    public static func connect(
        _ configuration: RedisConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(RedisError) -> RedisConnection {
        let loop = group.next()
        let box = NIOLoopBoundBox.makeEmptyBox(valueType: RedisPipeline.self, eventLoop: loop)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try Self.addReplyHandler(to: channel, keepingPipelineIn: box) }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            throw RedisError(
                .connectionFailed, "cannot connect to Redis at \(configuration.host):\(configuration.port): \(error)")
        }
        return try await setUp(channel: channel, pipeline: box, configuration: configuration)
    }

    /// A connection over a channel that is already connected (in tests, an `NIOAsyncTestingChannel`):
    /// adds the reply handler on the channel's loop, then sets the session up as ``connect(_:group:)`` does.
    static func connect(over channel: any Channel, configuration: RedisConfiguration) async throws(RedisError)
        -> RedisConnection
    {
        let box = NIOLoopBoundBox.makeEmptyBox(valueType: RedisPipeline.self, eventLoop: channel.eventLoop)
        do {
            try await channel.eventLoop.submit { try Self.addReplyHandler(to: channel, keepingPipelineIn: box) }.get()
        } catch {
            throw (error as? RedisError) ?? RedisError(.connectionFailed, "cannot set up the Redis channel: \(error)")
        }
        return try await setUp(channel: channel, pipeline: box, configuration: configuration)
    }

    /// On the channel's loop, before it reads: the parser and the handler that feeds it.
    private static func addReplyHandler(to channel: any Channel, keepingPipelineIn box: NIOLoopBoundBox<RedisPipeline?>) throws {
        let pipeline = try RedisPipeline()
        box.value = pipeline
        try channel.pipeline.syncOperations.addHandler(RedisReplyHandler(pipeline: pipeline))
    }

    /// Starts the watchdog, then authenticates and selects the database; closes the channel if Redis refuses.
    private static func setUp(
        channel: any Channel, pipeline: NIOLoopBoundBox<RedisPipeline?>, configuration: RedisConfiguration
    ) async throws(RedisError) -> RedisConnection {
        let connection = RedisConnection(channel: channel, pipeline: pipeline, commandTimeout: configuration.commandTimeout)
        connection.startWatchdog()
        do throws(RedisError) {
            if let password = configuration.password {
                var args: [RedisArgument] = ["AUTH"]
                if let user = configuration.username { args.append(RedisArgument(user)) }
                args.append(RedisArgument(password))
                _ = try await connection.execute(args)
            }
            if configuration.database != 0 {
                _ = try await connection.execute(["SELECT", RedisArgument(configuration.database)])
            }
        } catch {
            await connection.close()
            throw RedisError(.connectionFailed, "Redis refused the session setup (AUTH/SELECT): \(error.message)")
        }
        return connection
    }

    public var isActive: Bool {
        channel.isActive && !closing.load(ordering: .relaxed)
    }

    /// Sends a typed command and decodes its reply.
    nonisolated(nonsending) public func send<Command: RedisCommand>(_ command: Command) async throws(RedisError) -> Command.Response {
        let timeout = command.blockingTime.map { $0 + commandTimeout } ?? commandTimeout
        return try command.decode(try await execute(command.arguments, timeout: timeout))
    }

    /// Sends two typed commands in one write and decodes both replies; an error reply to either
    /// is thrown. Redis runs the second once the first has returned: after a blocking read, a
    /// second, immediate read picks up what arrived while the first was being answered.
    nonisolated(nonsending) public func send<First: RedisCommand, Second: RedisCommand>(_ first: First, _ second: Second)
        async throws(RedisError) -> (First.Response, Second.Response)
    {
        let blocking = (first.blockingTime ?? .zero) + (second.blockingTime ?? .zero)
        let replies = try await pipeline([first.arguments, second.arguments], timeout: blocking + commandTimeout)
            .throwingFirstError()
        return (try first.decode(replies[0]), try second.decode(replies[1]))
    }

    /// Sends raw arguments; an error reply becomes a thrown `.server` error.
    nonisolated(nonsending) public func execute(_ arguments: [RedisArgument], timeout: Duration? = nil) async throws(RedisError) -> RESPValue {
        let reply = try await roundTrip(arguments, timeout: timeout ?? commandTimeout)
        if case .error(let message) = reply { throw RedisError(.server, message) }
        return reply
    }

    /// Sends several commands in one write and returns their replies, in order, when the last has
    /// come. Error replies are returned as `.error` values, not thrown: the caller decides. The group
    /// is not atomic (other clients' commands may run between its commands), only in order.
    nonisolated(nonsending) public func pipeline(_ commands: [[RedisArgument]], timeout: Duration? = nil) async throws(RedisError) -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        let deadline = channel.eventLoop.now + TimeAmount(timeout ?? commandTimeout)
        do {
            return try await withUnsafeThrowingContinuation { waiter in
                enqueue(Queued(commands: .many(commands), waiter: .many(count: commands.count, waiter), deadline: deadline))
            }
        } catch {
            throw Self.redisError(error)
        }
    }

    nonisolated(nonsending) private func roundTrip(_ arguments: [RedisArgument], timeout: Duration) async throws(RedisError) -> RESPValue {
        let deadline = channel.eventLoop.now + TimeAmount(timeout)
        do {
            return try await withUnsafeThrowingContinuation { waiter in
                enqueue(Queued(commands: .one(arguments), waiter: .one(waiter), deadline: deadline))
            }
        } catch {
            throw Self.redisError(error)
        }
    }

    private static func redisError(_ error: any Error) -> RedisError {
        (error as? RedisError) ?? RedisError(.connectionClosed, "the Redis connection closed: \(error)")
    }

    private func enqueue(_ command: Queued) {
        let first = outbox.withLock { outbox in
            outbox.commands.append(command)
            defer { outbox.scheduled = true }
            return !outbox.scheduled
        }
        guard first else { return }
        channel.eventLoop.execute { [self] in writeOutbox() }
    }

    /// On the event loop: formats every queued command into one buffer, writes and flushes it once.
    private func writeOutbox() {
        let commands = outbox.withLock { outbox in
            outbox.scheduled = false
            return outbox.commands.removeAllAndReturn()
        }
        guard let pipeline = pipeline.value, channel.isActive, pipeline.failure == nil else {
            // Closed before the write: nothing will answer these.
            let error = pipeline.value?.failure ?? RedisError(.connectionClosed, "the Redis connection closed")
            for command in commands { command.waiter.fail(error) }
            return
        }
        var buffer = channel.allocator.buffer(capacity: commands.count * 128)
        pipeline.encode(commands, into: &buffer)
        channel.writeAndFlush(buffer, promise: nil)
    }

    /// Every 50 ms: when the oldest unanswered command is past its deadline, the server has stopped
    /// answering and the pipeline is unusable: fail what is in flight with `.timeout` and close.
    /// Deadlines are on the loop's clock (`NIODeadline.now()` on a real loop, the test loop's own time
    /// under `NIOAsyncTestingEventLoop`).
    private func startWatchdog() {
        let loop = channel.eventLoop
        let task = loop.scheduleRepeatedTask(initialDelay: .milliseconds(50), delay: .milliseconds(50)) { [weak self] task in
            guard let self else {
                task.cancel()
                return
            }
            guard let pipeline = pipeline.value, let oldest = pipeline.oldestDeadline, oldest < loop.now else { return }
            task.cancel()
            closing.store(true, ordering: .relaxed)
            pipeline.fail(
                RedisError(.timeout, "no reply from Redis within the command timeout (\(commandTimeout), plus any BLOCK time)"))
            channel.close(promise: nil)
        }
        channel.closeFuture.whenComplete { _ in task.cancel() }
    }

    public func close() async {
        try? await channel.close()
    }
}

extension Array {
    fileprivate mutating func removeAllAndReturn() -> [Element] {
        var taken: [Element] = []
        swap(&taken, &self)
        return taken
    }
}
