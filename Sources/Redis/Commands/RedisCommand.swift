/// A Redis command with its arguments and the Swift type its reply decodes to.
public protocol RedisCommand: Sendable {
    associatedtype Response: Sendable
    /// The command name followed by its arguments.
    var arguments: [RedisArgument] { get }
    /// For commands that wait server-side (`BLOCK`), how long they may wait; the command timeout starts after it.
    var blockingTime: Duration? { get }
    func decode(_ reply: RESPValue) throws(RedisError) -> Response
}

extension RedisCommand {
    public var blockingTime: Duration? { nil }
}

extension RESPValue {
    func unexpected(_ command: String) -> RedisError {
        RedisError(.unexpectedReply, "\(command): unexpected reply \(self)")
    }

    func expectString(_ command: String) throws(RedisError) -> String {
        guard let s = string else { throw unexpected(command) }
        return s
    }

    func expectInt(_ command: String) throws(RedisError) -> Int {
        guard let i = int else { throw unexpected(command) }
        return i
    }

    func expectArray(_ command: String) throws(RedisError) -> [RESPValue] {
        guard let a = array else { throw unexpected(command) }
        return a
    }

    /// Reads a flat `[k1, v1, k2, v2 …]` reply (HGETALL, XINFO) as pairs.
    func pairs(_ command: String) throws(RedisError) -> [(String, RESPValue)] {
        let items = try expectArray(command)
        guard items.count % 2 == 0 else { throw unexpected(command) }
        var result: [(String, RESPValue)] = []
        result.reserveCapacity(items.count / 2)
        var i = 0
        while i < items.count {
            result.append((try items[i].expectString(command), items[i + 1]))
            i += 2
        }
        return result
    }
}

func milliseconds(_ duration: Duration) -> Int64 { duration.wholeMilliseconds }

extension Duration {
    /// Whole milliseconds (as Redis takes times).
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
