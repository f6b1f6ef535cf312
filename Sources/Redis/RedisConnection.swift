import Logging
import NIOCore
import NIOExtras
import NIOPosix
import Synchronization

/// One TCP connection to Redis. Commands sent concurrently are pipelined: written as they come,
/// answered in order. Safe to share between tasks; all channel work happens on its event loop.
public final class RedisConnection: Sendable {
    let channel: any Channel
    let commandTimeout: Duration
    /// Set the moment we decide to drop the connection, before the close has run on the event loop.
    private let closing = Atomic<Bool>(false)
    /// Commands waiting to be written. Callers append; the first of a burst schedules one event-loop
    /// task that writes them all in order and flushes once (one syscall for many pipelined commands).
    private let outbox = Mutex<Outbox>(Outbox())

    private struct Outbox: ~Copyable {
        var commands: [([RedisArgument], EventLoopPromise<RESPValue>, NIODeadline)] = []
        var scheduled = false
    }

    /// Written commands not yet answered, oldest first (Redis answers in order), with their deadlines.
    /// One watchdog per connection checks the oldest, instead of a timer per command.
    private let inFlight = Mutex<InFlight>(InFlight())

    private struct InFlight: ~Copyable {
        var entries: [(EventLoopPromise<RESPValue>, NIODeadline)] = []
        var head = 0

        mutating func append(_ promise: EventLoopPromise<RESPValue>, _ deadline: NIODeadline) {
            if head > 64 && head * 2 > entries.count {
                entries.removeFirst(head)
                head = 0
            }
            entries.append((promise, deadline))
        }

        mutating func popFirst() {
            if head < entries.count { head += 1 }
        }

        var oldestDeadline: NIODeadline? { head < entries.count ? entries[head].1 : nil }

        mutating func removeAll() -> [EventLoopPromise<RESPValue>] {
            defer {
                entries = []
                head = 0
            }
            return entries[head...].map(\.0)
        }
    }

    private init(channel: any Channel, commandTimeout: Duration) {
        self.channel = channel
        self.commandTimeout = commandTimeout
    }

    /// Opens a connection, then authenticates and selects the database the configuration names.
    public static func connect(
        _ configuration: RedisConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(RedisError) -> RedisConnection {
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let decoder = try RESPReplyDecoder()
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(decoder),
                        MessageToByteHandler(RESPCommandEncoder()),
                        RequestResponseHandler<[RedisArgument], RESPValue>(initialBufferCapacity: 64),
                    ])
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            throw RedisError(
                .connectionFailed, "cannot connect to Redis at \(configuration.host):\(configuration.port): \(error)")
        }
        let connection = RedisConnection(channel: channel, commandTimeout: configuration.commandTimeout)
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

    public var isActive: Bool { channel.isActive && !closing.load(ordering: .relaxed) }

    /// Sends a typed command and decodes its reply.
    public func send<Command: RedisCommand>(_ command: Command) async throws(RedisError) -> Command.Response {
        let timeout = command.blockingTime.map { $0 + commandTimeout } ?? commandTimeout
        return try command.decode(try await execute(command.arguments, timeout: timeout))
    }

    /// Sends raw arguments; an error reply becomes a thrown `.server` error.
    public func execute(_ arguments: [RedisArgument], timeout: Duration? = nil) async throws(RedisError) -> RESPValue {
        let reply = try await roundTrip(arguments, timeout: timeout ?? commandTimeout)
        if case .error(let message) = reply { throw RedisError(.server, message) }
        return reply
    }

    private func roundTrip(_ arguments: [RedisArgument], timeout: Duration) async throws(RedisError) -> RESPValue {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        enqueue(arguments, promise, deadline: .now() + TimeAmount(timeout))
        do {
            return try await promise.futureResult.get()
        } catch let error as RedisError {
            throw error
        } catch {
            throw RedisError(.connectionClosed, "the Redis connection closed: \(error)")
        }
    }

    private func enqueue(_ arguments: [RedisArgument], _ promise: EventLoopPromise<RESPValue>, deadline: NIODeadline) {
        let first = outbox.withLock { outbox in
            outbox.commands.append((arguments, promise, deadline))
            defer { outbox.scheduled = true }
            return !outbox.scheduled
        }
        guard first else { return }
        channel.eventLoop.execute { [self] in
            let commands = outbox.withLock { outbox in
                outbox.scheduled = false
                return outbox.commands.removeAllAndReturn()
            }
            guard channel.isActive else {
                // Closed before the write (and the watchdog with it): nothing will answer these.
                let error = RedisError(.connectionClosed, "the Redis connection closed")
                for (_, promise, _) in commands { promise.fail(error) }
                return
            }
            inFlight.withLock { inFlight in
                for (_, promise, deadline) in commands { inFlight.append(promise, deadline) }
            }
            for (arguments, promise, _) in commands {
                // Completions run on this event loop, in the order the commands were written.
                promise.futureResult.whenComplete { [self] _ in inFlight.withLock { $0.popFirst() } }
                channel.write((arguments, promise), promise: nil)
            }
            channel.flush()
        }
    }

    /// Every 50 ms: when the oldest unanswered command is past its deadline, the server has stopped
    /// answering and the pipeline is unusable: fail what is in flight with `.timeout` and close.
    private func startWatchdog() {
        let loop = channel.eventLoop
        let task = loop.scheduleRepeatedTask(initialDelay: .milliseconds(50), delay: .milliseconds(50)) { [weak self] task in
            guard let self else {
                task.cancel()
                return
            }
            guard let oldest = inFlight.withLock({ $0.oldestDeadline }), oldest < .now() else { return }
            task.cancel()
            closing.store(true, ordering: .relaxed)
            let stuck = inFlight.withLock { $0.removeAll() }
            let error = RedisError(.timeout, "no reply from Redis within the command timeout (\(commandTimeout), plus any BLOCK time)")
            for promise in stuck { promise.fail(error) }
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

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
