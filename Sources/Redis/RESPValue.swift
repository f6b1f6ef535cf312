/// A reply from Redis, as parsed by hiredis (RESP2).
public enum RESPValue: Sendable, Equatable, Hashable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    case bulkString([UInt8])
    case null
    case array([RESPValue])

    /// The value as text, for status and bulk replies.
    public var string: String? {
        switch self {
        case .simpleString(let s): return s
        case .bulkString(let b): return String(decoding: b, as: UTF8.self)
        case .integer(let i): return String(i)
        default: return nil
        }
    }

    /// The value as an integer, for integer replies and bulk replies that hold digits.
    public var int: Int? {
        switch self {
        case .integer(let i): return Int(i)
        case .bulkString, .simpleString: return string.flatMap { Int($0) }
        default: return nil
        }
    }

    public var array: [RESPValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var isNull: Bool { self == .null }
}

/// One argument of a Redis command: raw bytes, usually text. Text is kept as the `String` it came
/// as (no copy into an array per argument: a command's keywords, keys and numbers cost nothing
/// until they are formatted).
public struct RedisArgument: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    enum Storage: Sendable {
        case bytes([UInt8])
        case text(String)
    }

    let storage: Storage

    public init(bytes: [UInt8]) { self.storage = .bytes(bytes) }
    public init(_ string: String) { self.storage = .text(string) }
    public init<I: BinaryInteger>(_ value: I) { self.storage = .text(String(value)) }
    public init(stringLiteral value: String) { self.init(value) }
    public init(integerLiteral value: Int) { self.init(value) }

    /// The argument's bytes (a copy for text).
    public var bytes: [UInt8] {
        switch storage {
        case .bytes(let bytes): bytes
        case .text(let text): Array(text.utf8)
        }
    }

    /// How many bytes the argument has.
    var count: Int {
        switch storage {
        case .bytes(let bytes): bytes.count
        case .text(let text): text.utf8.count
        }
    }

    /// Appends the argument's bytes to `buffer`.
    func append(to buffer: inout [UInt8]) {
        switch storage {
        case .bytes(let bytes): buffer.append(contentsOf: bytes)
        case .text(let text): buffer.append(contentsOf: text.utf8)
        }
    }

    public static func == (lhs: RedisArgument, rhs: RedisArgument) -> Bool { lhs.bytes == rhs.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }
}

extension Array where Element == RESPValue {
    /// Throws the first error reply among a pipeline's replies (as a `.server` error); returns them otherwise.
    @discardableResult
    public func throwingFirstError() throws(RedisError) -> [RESPValue] {
        for reply in self {
            if case .error(let message) = reply { throw RedisError(.server, message) }
        }
        return self
    }
}
