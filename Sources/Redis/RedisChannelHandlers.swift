import NIOCore

/// The loop-confined half of a connection: the commands written and not yet answered (Redis
/// answers in order), the hiredis reader that parses the answers, and the formatter's scratch
/// space. Only ever touched on the connection's event loop.
final class RedisPipeline {
    /// Who waits for what: one reply, or the replies of a pipelined group of commands.
    enum Waiter {
        case one(UnsafeContinuation<RESPValue, any Error>)
        case many(count: Int, UnsafeContinuation<[RESPValue], any Error>)

        func fail(_ error: RedisError) {
            switch self {
            case .one(let waiter): waiter.resume(throwing: error)
            case .many(_, let waiter): waiter.resume(throwing: error)
            }
        }
    }

    private var inFlight = CircularBuffer<(waiter: Waiter, deadline: NIODeadline)>(initialCapacity: 64)
    /// The replies collected so far for the oldest waiter, when it waits for several.
    private var collected: [RESPValue] = []
    private var formatter = HiredisCommandFormatter.Scratch()
    private let reader: HiredisReader
    /// Set once the connection failed: later commands fail at once with it.
    private(set) var failure: RedisError?

    init() throws(RedisError) {
        reader = try HiredisReader()
    }

    /// Formats the commands into one buffer, in order, and records their waiters in the same order.
    /// A command (or group) hiredis cannot format is failed on its own and nothing of it is written.
    func encode(_ commands: [RedisConnection.Queued], into buffer: inout ByteBuffer) {
        for command in commands {
            let start = buffer.writerIndex
            do throws(RedisError) {
                switch command.commands {
                case .one(let arguments):
                    try formatter.format(arguments) { buffer.writeBytes($0) }
                case .many(let group):
                    for arguments in group { try formatter.format(arguments) { buffer.writeBytes($0) } }
                }
                inFlight.append((command.waiter, command.deadline))
            } catch {
                buffer.moveWriterIndex(to: start)
                command.waiter.fail(error)
            }
        }
    }

    /// Parses what the socket delivered and answers the oldest waiters with the complete replies.
    func receive(_ bytes: UnsafeRawBufferPointer) throws(RedisError) {
        try reader.feed(bytes)
        while let reply = try reader.nextReply() {
            // A reply nobody waits for (its waiter was failed by a timeout) is dropped.
            guard let first = inFlight.first else { continue }
            switch first.waiter {
            case .one(let waiter):
                inFlight.removeFirst()
                waiter.resume(returning: reply)
            case .many(let count, let waiter):
                collected.append(reply)
                if collected.count == count {
                    inFlight.removeFirst()
                    let replies = collected
                    collected = []
                    waiter.resume(returning: replies)
                }
            }
        }
    }

    /// The deadline of the oldest unanswered command.
    var oldestDeadline: NIODeadline? { inFlight.first?.deadline }

    /// How many commands (a pipelined group counts once) wait for their reply.
    var waitingCount: Int { inFlight.count }

    /// Fails every unanswered command, and every later one, with `error`.
    func fail(_ error: RedisError) {
        if failure == nil { failure = error }
        collected = []
        while let first = inFlight.popFirst() { first.waiter.fail(error) }
    }
}

/// Hands the bytes Redis sends to the connection's ``RedisPipeline`` (hiredis buffers partial
/// replies itself), and fails what is in flight when the connection ends.
final class RedisReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let pipeline: RedisPipeline

    init(pipeline: RedisPipeline) { self.pipeline = pipeline }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        do throws(RedisError) {
            try buffer.withUnsafeReadableBytes { bytes throws(RedisError) in try pipeline.receive(bytes) }
        } catch {
            pipeline.fail(error)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        pipeline.fail(RedisError(.connectionClosed, "the Redis connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        pipeline.fail(RedisError(.connectionClosed, "the Redis connection failed: \(error)"))
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension RedisReplyHandler: Sendable {}
@available(*, unavailable)
extension RedisPipeline: Sendable {}
