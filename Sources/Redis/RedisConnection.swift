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
        let channel = self.channel
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        let timer = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) { [self] in
            // A server that stops answering leaves the pipeline unusable: fail and reconnect.
            closing.store(true, ordering: .relaxed)
            promise.fail(RedisError(.timeout, "no reply from Redis within \(timeout)"))
            channel.close(promise: nil)
        }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        channel.writeAndFlush((arguments, promise), promise: nil)
        do {
            return try await promise.futureResult.get()
        } catch let error as RedisError {
            throw error
        } catch {
            throw RedisError(.connectionClosed, "the Redis connection closed: \(error)")
        }
    }

    public func close() async {
        try? await channel.close()
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
