import NIOCore

/// Parses replies with hiredis's reader as bytes arrive; several replies per read are normal (pipelining).
final class RESPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESPValue
    private let reader: HiredisReader

    init() throws(RedisError) {
        self.reader = try HiredisReader()
    }

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let readable = buffer.readableBytes
        guard readable > 0 else { return .needMoreData }
        try buffer.withUnsafeReadableBytes { bytes throws(RedisError) in try reader.feed(bytes) }
        buffer.moveReaderIndex(forwardBy: readable)
        while let reply = try reader.nextReply() {
            context.fireChannelRead(wrapInboundOut(reply))
        }
        return .needMoreData
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

/// Encodes outgoing commands with `redisFormatCommandArgv`.
final class RESPCommandEncoder: MessageToByteEncoder {
    typealias OutboundIn = [RedisArgument]

    func encode(data: [RedisArgument], out: inout ByteBuffer) throws {
        try HiredisCommandFormatter.format(data) { bytes in out.writeBytes(bytes) }
    }
}

@available(*, unavailable)
extension RESPReplyDecoder: Sendable {}
@available(*, unavailable)
extension RESPCommandEncoder: Sendable {}
