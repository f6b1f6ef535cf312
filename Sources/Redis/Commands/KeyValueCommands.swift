/// `PING` → `PONG`.
public struct PING: RedisCommand {
    public init() {}
    public var arguments: [RedisArgument] { ["PING"] }
    public func decode(_ reply: RESPValue) throws(RedisError) -> String { try reply.expectString("PING") }
}

/// `GET key` → the value, or nil.
public struct GET: RedisCommand {
    public var key: String
    public init(_ key: String) { self.key = key }
    public var arguments: [RedisArgument] { ["GET", RedisArgument(key)] }
    public func decode(_ reply: RESPValue) throws(RedisError) -> [UInt8]? {
        switch reply {
        case .null: return nil
        case .bulkString(let bytes): return bytes
        default: throw reply.unexpected("GET")
        }
    }
}

/// `SET key value [EX|PX] [NX|XX]` → whether the value was set (false when NX/XX prevented it).
public struct SET: RedisCommand {
    public enum Expiry: Sendable, Hashable {
        case seconds(Int)
        case milliseconds(Int)
    }
    public enum Condition: Sendable, Hashable {
        case ifNotExists, ifExists
    }
    public var key: String
    public var value: RedisArgument
    public var expiry: Expiry?
    public var condition: Condition?

    public init(_ key: String, value: RedisArgument, expiry: Expiry? = nil, condition: Condition? = nil) {
        self.key = key
        self.value = value
        self.expiry = expiry
        self.condition = condition
    }

    public var arguments: [RedisArgument] {
        var args: [RedisArgument] = ["SET", RedisArgument(key), value]
        switch expiry {
        case .seconds(let s): args += ["EX", RedisArgument(s)]
        case .milliseconds(let ms): args += ["PX", RedisArgument(ms)]
        case nil: break
        }
        switch condition {
        case .ifNotExists: args.append("NX")
        case .ifExists: args.append("XX")
        case nil: break
        }
        return args
    }

    public func decode(_ reply: RESPValue) throws(RedisError) -> Bool {
        switch reply {
        case .simpleString("OK"): return true
        case .null: return false
        default: throw reply.unexpected("SET")
        }
    }
}

/// `DEL key…` → how many keys were removed.
public struct DEL: RedisCommand {
    public var keys: [String]
    public init(_ keys: String...) { self.keys = keys }
    public init(keys: [String]) { self.keys = keys }
    public var arguments: [RedisArgument] { ["DEL"] + keys.map { RedisArgument($0) } }
    public func decode(_ reply: RESPValue) throws(RedisError) -> Int { try reply.expectInt("DEL") }
}

/// `EXISTS key…` → how many of the keys exist.
public struct EXISTS: RedisCommand {
    public var keys: [String]
    public init(_ keys: String...) { self.keys = keys }
    public var arguments: [RedisArgument] { ["EXISTS"] + keys.map { RedisArgument($0) } }
    public func decode(_ reply: RESPValue) throws(RedisError) -> Int { try reply.expectInt("EXISTS") }
}

/// `EXPIRE key seconds` / `PEXPIRE key ms` → whether a timeout was set.
public struct PEXPIRE: RedisCommand {
    public var key: String
    public var after: Duration
    public init(_ key: String, after: Duration) {
        self.key = key
        self.after = after
    }
    public var arguments: [RedisArgument] { ["PEXPIRE", RedisArgument(key), RedisArgument(milliseconds(after))] }
    public func decode(_ reply: RESPValue) throws(RedisError) -> Bool { try reply.expectInt("PEXPIRE") == 1 }
}

/// `PTTL key` → remaining time to live in milliseconds (-1 no expiry, -2 no key).
public struct PTTL: RedisCommand {
    public var key: String
    public init(_ key: String) { self.key = key }
    public var arguments: [RedisArgument] { ["PTTL", RedisArgument(key)] }
    public func decode(_ reply: RESPValue) throws(RedisError) -> Int { try reply.expectInt("PTTL") }
}

/// `INCRBY key n` (`INCR` for 1) → the new value.
public struct INCR: RedisCommand {
    public var key: String
    public var by: Int
    public init(_ key: String, by: Int = 1) {
        self.key = key
        self.by = by
    }
    public var arguments: [RedisArgument] {
        by == 1 ? ["INCR", RedisArgument(key)] : ["INCRBY", RedisArgument(key), RedisArgument(by)]
    }
    public func decode(_ reply: RESPValue) throws(RedisError) -> Int { try reply.expectInt("INCR") }
}

/// `HSET key field value…` → how many fields were added.
public struct HSET: RedisCommand {
    public var key: String
    public var fields: [(String, RedisArgument)]
    public init(_ key: String, fields: [(String, RedisArgument)]) {
        self.key = key
        self.fields = fields
    }
    public var arguments: [RedisArgument] {
        var args: [RedisArgument] = ["HSET", RedisArgument(key)]
        for (name, value) in fields { args += [RedisArgument(name), value] }
        return args
    }
    public func decode(_ reply: RESPValue) throws(RedisError) -> Int { try reply.expectInt("HSET") }
}

/// `HGETALL key` → the hash as a dictionary (empty when the key is missing).
public struct HGETALL: RedisCommand {
    public var key: String
    public init(_ key: String) { self.key = key }
    public var arguments: [RedisArgument] { ["HGETALL", RedisArgument(key)] }
    public func decode(_ reply: RESPValue) throws(RedisError) -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in try reply.pairs("HGETALL") { result[name] = try value.expectString("HGETALL") }
        return result
    }
}

/// `EVAL script numkeys key… arg…` → the script's reply.
public struct EVAL: RedisCommand {
    public var source: String
    public var keys: [String]
    public var args: [RedisArgument]
    public init(_ source: String, keys: [String] = [], arguments: [RedisArgument] = []) {
        self.source = source
        self.keys = keys
        self.args = arguments
    }
    public var arguments: [RedisArgument] {
        ["EVAL", RedisArgument(source), RedisArgument(keys.count)] + keys.map { RedisArgument($0) } + args
    }
    public func decode(_ reply: RESPValue) throws(RedisError) -> RESPValue { reply }
}

/// `EVALSHA sha numkeys key… arg…` → the script's reply (`NOSCRIPT` when the server lacks it).
public struct EVALSHA: RedisCommand {
    public var sha: String
    public var keys: [String]
    public var args: [RedisArgument]
    public init(sha: String, keys: [String] = [], arguments: [RedisArgument] = []) {
        self.sha = sha
        self.keys = keys
        self.args = arguments
    }
    public var arguments: [RedisArgument] {
        ["EVALSHA", RedisArgument(sha), RedisArgument(keys.count)] + keys.map { RedisArgument($0) } + args
    }
    public func decode(_ reply: RESPValue) throws(RedisError) -> RESPValue { reply }
}

/// `SCRIPT LOAD source` → the script's SHA1.
public struct SCRIPT_LOAD: RedisCommand {
    public var source: String
    public init(source: String) { self.source = source }
    public var arguments: [RedisArgument] { ["SCRIPT", "LOAD", RedisArgument(source)] }
    public func decode(_ reply: RESPValue) throws(RedisError) -> String { try reply.expectString("SCRIPT LOAD") }
}

/// `EXPIRE key seconds` → whether a timeout was set.
public struct EXPIRE: RedisCommand {
    public var key: String
    public var seconds: Int
    public init(_ key: String, seconds: Int) {
        self.key = key
        self.seconds = seconds
    }
    public var arguments: [RedisArgument] { ["EXPIRE", RedisArgument(key), RedisArgument(seconds)] }
    public func decode(_ reply: RESPValue) throws(RedisError) -> Bool { try reply.expectInt("EXPIRE") == 1 }
}
