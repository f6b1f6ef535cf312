/// One stream entry. An entry still pending in a group after its payload was trimmed or deleted
/// comes back with `isDeleted` set and no fields.
public struct StreamEntry: Sendable, Equatable {
    public var id: String
    public var fields: [String: String]
    public var isDeleted: Bool

    public init(id: String, fields: [String: String], isDeleted: Bool = false) {
        self.id = id
        self.fields = fields
        self.isDeleted = isDeleted
    }

    static func decode(_ value: RESPValue, _ command: String) throws(RedisError) -> StreamEntry {
        let parts = try value.expectArray(command)
        guard parts.count == 2 else { throw value.unexpected(command) }
        let id = try parts[0].expectString(command)
        if parts[1].isNull { return StreamEntry(id: id, fields: [:], isDeleted: true) }
        var fields: [String: String] = [:]
        for (name, v) in try parts[1].pairs(command) { fields[name] = try v.expectString(command) }
        return StreamEntry(id: id, fields: fields)
    }

    static func decodeList(_ value: RESPValue, _ command: String) throws(RedisError) -> [StreamEntry] {
        if value.isNull { return [] }
        var entries: [StreamEntry] = []
        for item in try value.expectArray(command) { entries.append(try decode(item, command)) }
        return entries
    }
}

/// The entries one stream returned to an `XREAD`/`XREADGROUP`.
public struct StreamMessages: Sendable, Equatable {
    public var stream: String
    public var entries: [StreamEntry]
}

/// How `XADD`/`XTRIM` bound a stream; approximate (`~`) trimming is much cheaper.
public enum StreamTrim: Sendable, Hashable {
    case maxLength(Int, approximate: Bool = true)
    case minID(String, approximate: Bool = true)

    var arguments: [RedisArgument] {
        switch self {
        case .maxLength(let n, let approximate): ["MAXLEN", approximate ? "~" : "=", RedisArgument(n)]
        case .minID(let id, let approximate): ["MINID", approximate ? "~" : "=", RedisArgument(id)]
        }
    }
}

/// `XADD stream [NOMKSTREAM] [MAXLEN|MINID ~ n] id field value…` → the new entry's ID (nil with NOMKSTREAM and no stream).
public struct XADD: RedisCommand {
    public var stream: String
    public var id: String
    public var fields: [(String, RedisArgument)]
    public var trim: StreamTrim?
    public var noMakeStream: Bool

    public init(
        _ stream: String, id: String = "*", fields: [(String, RedisArgument)], trim: StreamTrim? = nil,
        noMakeStream: Bool = false
    ) {
        self.stream = stream
        self.id = id
        self.fields = fields
        self.trim = trim
        self.noMakeStream = noMakeStream
    }

    public var arguments: [RedisArgument] {
        var args: [RedisArgument] = ["XADD", RedisArgument(stream)]
        if noMakeStream { args.append("NOMKSTREAM") }
        if let trim { args += trim.arguments }
        args.append(RedisArgument(id))
        for (name, value) in fields { args += [RedisArgument(name), value] }
        return args
    }

    public func decode(_ reply: RESPValue) throws(RedisError) -> String? {
        if reply.isNull { return nil }
        return try reply.expectString("XADD")
    }
}

private func decodeRead(_ reply: RESPValue, _ command: String) throws(RedisError) -> [StreamMessages] {
    if reply.isNull { return [] }  // BLOCK timed out
    var result: [StreamMessages] = []
    for item in try reply.expectArray(command) {
        let parts = try item.expectArray(command)
        guard parts.count == 2 else { throw item.unexpected(command) }
        result.append(
            StreamMessages(
                stream: try parts[0].expectString(command), entries: try StreamEntry.decodeList(parts[1], command)))
    }
    return result
}

private func readArguments(streams: [(String, String)], count: Int?, block: Duration?) -> [RedisArgument] {
    var args: [RedisArgument] = []
    if let count { args += ["COUNT", RedisArgument(count)] }
    if let block { args += ["BLOCK", RedisArgument(milliseconds(block))] }
    args.append("STREAMS")
    args += streams.map { RedisArgument($0.0) }
    args += streams.map { RedisArgument($0.1) }
    return args
}

/// `XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS k… id…` (`>` for new entries, `0` for own pending).
public struct XREADGROUP: RedisCommand {
    public var group: String
    public var consumer: String
    public var streams: [(String, String)]
    public var count: Int?
    public var block: Duration?
    public var noAck: Bool

    public init(
        group: String, consumer: String, streams: [(String, String)], count: Int? = nil, block: Duration? = nil,
        noAck: Bool = false
    ) {
        self.group = group
        self.consumer = consumer
        self.streams = streams
        self.count = count
        self.block = block
        self.noAck = noAck
    }

    public var blockingTime: Duration? { block }

    public var arguments: [RedisArgument] {
        var args: [RedisArgument] = ["XREADGROUP", "GROUP", RedisArgument(group), RedisArgument(consumer)]
        var rest = readArguments(streams: streams, count: count, block: block)
        if noAck, let at = rest.firstIndex(of: "STREAMS") { rest.insert("NOACK", at: at) }
        args += rest
        return args
    }

    public func decode(_ reply: RESPValue) throws(RedisError) -> [StreamMessages] { try decodeRead(reply, "XREADGROUP") }
}

/// `XREAD [COUNT n] [BLOCK ms] STREAMS k… id…`.
public struct XREAD: RedisCommand {
    public var streams: [(String, String)]
    public var count: Int?
    public var block: Duration?

    public init(streams: [(String, String)], count: Int? = nil, block: Duration? = nil) {
        self.streams = streams
        self.count = count
        self.block = block
    }

    public var blockingTime: Duration? { block }
    public var arguments: [RedisArgument] { ["XREAD"] + readArguments(streams: streams, count: count, block: block) }
    public func decode(_ reply: RESPValue) throws(RedisError) -> [StreamMessages] { try decodeRead(reply, "XREAD") }
}

/// `XACK stream group id…` → how many entries were acknowledged.
public struct XACK: RedisCommand {
    public var stream: String
    public var group: String
    public var ids: [String]
    public init(_ stream: String, group: String, ids: [String]) {
        self.stream = stream
        self.group = group
        self.ids = ids
    }
    public var arguments: [RedisArgument] {
        ["XACK", RedisArgument(stream), RedisArgument(group)] + ids.map { RedisArgument($0) }
    }
    public func decode(_ reply: RESPValue) throws(RedisError) -> Int { try reply.expectInt("XACK") }
}

/// What `XAUTOCLAIM` took over: entries, the cursor to continue from ("0-0" when done), and IDs
/// whose payload no longer exists (Redis removed them from the pending list).
public struct AutoClaimResult: Sendable, Equatable {
    public var nextStart: String
    public var entries: [StreamEntry]
    public var deletedIDs: [String]
}

/// `XAUTOCLAIM stream group consumer min-idle-ms start [COUNT n]`.
public struct XAUTOCLAIM: RedisCommand {
    public var stream: String
    public var group: String
    public var consumer: String
    public var minIdle: Duration
    public var start: String
    public var count: Int?

    public init(
        _ stream: String, group: String, consumer: String, minIdle: Duration, start: String = "0-0", count: Int? = nil
    ) {
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.minIdle = minIdle
        self.start = start
        self.count = count
    }

    public var arguments: [RedisArgument] {
        var args: [RedisArgument] = [
            "XAUTOCLAIM", RedisArgument(stream), RedisArgument(group), RedisArgument(consumer),
            RedisArgument(milliseconds(minIdle)), RedisArgument(start),
        ]
        if let count { args += ["COUNT", RedisArgument(count)] }
        return args
    }

    public func decode(_ reply: RESPValue) throws(RedisError) -> AutoClaimResult {
        let parts = try reply.expectArray("XAUTOCLAIM")
        guard parts.count >= 2 else { throw reply.unexpected("XAUTOCLAIM") }
        var deleted: [String] = []
        if parts.count >= 3 {
            for id in try parts[2].expectArray("XAUTOCLAIM") { deleted.append(try id.expectString("XAUTOCLAIM")) }
        }
        // Redis 6.2 reports a deleted entry as [id, nil] among the claimed entries instead.
        var entries: [StreamEntry] = []
        for entry in try StreamEntry.decodeList(parts[1], "XAUTOCLAIM") {
            if entry.isDeleted { deleted.append(entry.id) } else { entries.append(entry) }
        }
        return AutoClaimResult(
            nextStart: try parts[0].expectString("XAUTOCLAIM"), entries: entries, deletedIDs: deleted)
    }
}

/// The summary form of `XPENDING`.
public struct PendingSummary: Sendable, Equatable {
    public var count: Int
    public var smallestID: String?
    public var largestID: String?
    public var consumers: [String: Int]
}

/// `XPENDING stream group` → the group's pending summary.
public struct XPENDING_SUMMARY: RedisCommand {
    public var stream: String
    public var group: String
    public init(_ stream: String, group: String) {
        self.stream = stream
        self.group = group
    }
    public var arguments: [RedisArgument] { ["XPENDING", RedisArgument(stream), RedisArgument(group)] }
    public func decode(_ reply: RESPValue) throws(RedisError) -> PendingSummary {
        let parts = try reply.expectArray("XPENDING")
        guard parts.count == 4 else { throw reply.unexpected("XPENDING") }
        var consumers: [String: Int] = [:]
        if !parts[3].isNull {
            for item in try parts[3].expectArray("XPENDING") {
                let pair = try item.expectArray("XPENDING")
                guard pair.count == 2 else { throw item.unexpected("XPENDING") }
                consumers[try pair[0].expectString("XPENDING")] = try pair[1].expectInt("XPENDING")
            }
        }
        return PendingSummary(
            count: try parts[0].expectInt("XPENDING"), smallestID: parts[1].string, largestID: parts[2].string,
            consumers: consumers)
    }
}

/// One entry of the extended `XPENDING` form.
public struct PendingEntry: Sendable, Equatable {
    public var id: String
    public var consumer: String
    /// Milliseconds since the entry was last delivered.
    public var idleMilliseconds: Int
    public var deliveryCount: Int
}

/// `XPENDING stream group [IDLE ms] start end count [consumer]`.
public struct XPENDING: RedisCommand {
    public var stream: String
    public var group: String
    public var start: String
    public var end: String
    public var count: Int
    public var consumer: String?
    public var minIdle: Duration?

    public init(
        _ stream: String, group: String, start: String = "-", end: String = "+", count: Int,
        consumer: String? = nil, minIdle: Duration? = nil
    ) {
        self.stream = stream
        self.group = group
        self.start = start
        self.end = end
        self.count = count
        self.consumer = consumer
        self.minIdle = minIdle
    }

    public var arguments: [RedisArgument] {
        var args: [RedisArgument] = ["XPENDING", RedisArgument(stream), RedisArgument(group)]
        if let minIdle { args += ["IDLE", RedisArgument(milliseconds(minIdle))] }
        args += [RedisArgument(start), RedisArgument(end), RedisArgument(count)]
        if let consumer { args.append(RedisArgument(consumer)) }
        return args
    }

    public func decode(_ reply: RESPValue) throws(RedisError) -> [PendingEntry] {
        var result: [PendingEntry] = []
        for item in try reply.expectArray("XPENDING") {
            let p = try item.expectArray("XPENDING")
            guard p.count == 4 else { throw item.unexpected("XPENDING") }
            result.append(
                PendingEntry(
                    id: try p[0].expectString("XPENDING"), consumer: try p[1].expectString("XPENDING"),
                    idleMilliseconds: try p[2].expectInt("XPENDING"), deliveryCount: try p[3].expectInt("XPENDING")))
        }
        return result
    }
}

/// `XGROUP CREATE stream group id [MKSTREAM]`; a `BUSYGROUP` server error means it already exists.
public struct XGROUP_CREATE: RedisCommand {
    public var stream: String
    public var group: String
    public var id: String
    public var makeStream: Bool
    public init(_ stream: String, group: String, id: String = "$", makeStream: Bool = true) {
        self.stream = stream
        self.group = group
        self.id = id
        self.makeStream = makeStream
    }
    public var arguments: [RedisArgument] {
        var args: [RedisArgument] = ["XGROUP", "CREATE", RedisArgument(stream), RedisArgument(group), RedisArgument(id)]
        if makeStream { args.append("MKSTREAM") }
        return args
    }
    public func decode(_ reply: RESPValue) throws(RedisError) {
        guard reply == .simpleString("OK") else { throw reply.unexpected("XGROUP CREATE") }
    }
}

/// `XGROUP DELCONSUMER stream group consumer` → how many pending entries the consumer still had.
public struct XGROUP_DELCONSUMER: RedisCommand {
    public var stream: String
    public var group: String
    public var consumer: String
    public init(_ stream: String, group: String, consumer: String) {
        self.stream = stream
        self.group = group
        self.consumer = consumer
    }
    public var arguments: [RedisArgument] {
        ["XGROUP", "DELCONSUMER", RedisArgument(stream), RedisArgument(group), RedisArgument(consumer)]
    }
    public func decode(_ reply: RESPValue) throws(RedisError) -> Int { try reply.expectInt("XGROUP DELCONSUMER") }
}

/// `XGROUP SETID stream group id`.
public struct XGROUP_SETID: RedisCommand {
    public var stream: String
    public var group: String
    public var id: String
    public init(_ stream: String, group: String, id: String) {
        self.stream = stream
        self.group = group
        self.id = id
    }
    public var arguments: [RedisArgument] {
        ["XGROUP", "SETID", RedisArgument(stream), RedisArgument(group), RedisArgument(id)]
    }
    public func decode(_ reply: RESPValue) throws(RedisError) {
        guard reply == .simpleString("OK") else { throw reply.unexpected("XGROUP SETID") }
    }
}

/// `XINFO STREAM` in short.
public struct StreamInfo: Sendable, Equatable {
    public var length: Int
    public var groups: Int
    public var lastGeneratedID: String
    public var firstEntryID: String?
    public var lastEntryID: String?
}

/// `XINFO STREAM stream`.
public struct XINFO_STREAM: RedisCommand {
    public var stream: String
    public init(_ stream: String) { self.stream = stream }
    public var arguments: [RedisArgument] { ["XINFO", "STREAM", RedisArgument(stream)] }
    public func decode(_ reply: RESPValue) throws(RedisError) -> StreamInfo {
        var info = StreamInfo(length: 0, groups: 0, lastGeneratedID: "0-0")
        for (name, value) in try reply.pairs("XINFO STREAM") {
            switch name {
            case "length": info.length = try value.expectInt("XINFO STREAM")
            case "groups": info.groups = try value.expectInt("XINFO STREAM")
            case "last-generated-id": info.lastGeneratedID = try value.expectString("XINFO STREAM")
            case "first-entry": info.firstEntryID = value.isNull ? nil : value.array?.first?.string
            case "last-entry": info.lastEntryID = value.isNull ? nil : value.array?.first?.string
            default: continue
            }
        }
        return info
    }
}

/// One consumer group of a stream, from `XINFO GROUPS`. `lag` is nil when Redis cannot tell.
public struct GroupInfo: Sendable, Equatable {
    public var name: String
    public var consumers: Int
    public var pending: Int
    public var lastDeliveredID: String
    public var lag: Int?
}

/// `XINFO GROUPS stream`.
public struct XINFO_GROUPS: RedisCommand {
    public var stream: String
    public init(_ stream: String) { self.stream = stream }
    public var arguments: [RedisArgument] { ["XINFO", "GROUPS", RedisArgument(stream)] }
    public func decode(_ reply: RESPValue) throws(RedisError) -> [GroupInfo] {
        var result: [GroupInfo] = []
        for item in try reply.expectArray("XINFO GROUPS") {
            var group = GroupInfo(name: "", consumers: 0, pending: 0, lastDeliveredID: "0-0", lag: nil)
            for (name, value) in try item.pairs("XINFO GROUPS") {
                switch name {
                case "name": group.name = try value.expectString("XINFO GROUPS")
                case "consumers": group.consumers = try value.expectInt("XINFO GROUPS")
                case "pending": group.pending = try value.expectInt("XINFO GROUPS")
                case "last-delivered-id": group.lastDeliveredID = try value.expectString("XINFO GROUPS")
                case "lag": group.lag = value.int
                default: continue
                }
            }
            result.append(group)
        }
        return result
    }
}

/// One consumer of a group, from `XINFO CONSUMERS`.
public struct ConsumerInfo: Sendable, Equatable {
    public var name: String
    public var pending: Int
    /// Milliseconds since the consumer last read or claimed.
    public var idleMilliseconds: Int
}

/// `XINFO CONSUMERS stream group`.
public struct XINFO_CONSUMERS: RedisCommand {
    public var stream: String
    public var group: String
    public init(_ stream: String, group: String) {
        self.stream = stream
        self.group = group
    }
    public var arguments: [RedisArgument] { ["XINFO", "CONSUMERS", RedisArgument(stream), RedisArgument(group)] }
    public func decode(_ reply: RESPValue) throws(RedisError) -> [ConsumerInfo] {
        var result: [ConsumerInfo] = []
        for item in try reply.expectArray("XINFO CONSUMERS") {
            var consumer = ConsumerInfo(name: "", pending: 0, idleMilliseconds: 0)
            for (name, value) in try item.pairs("XINFO CONSUMERS") {
                switch name {
                case "name": consumer.name = try value.expectString("XINFO CONSUMERS")
                case "pending": consumer.pending = try value.expectInt("XINFO CONSUMERS")
                case "idle": consumer.idleMilliseconds = try value.expectInt("XINFO CONSUMERS")
                default: continue
                }
            }
            result.append(consumer)
        }
        return result
    }
}

/// `XRANGE stream start end [COUNT n]` (or `XREVRANGE` with `reverse`, where start is the high end).
public struct XRANGE: RedisCommand {
    public var stream: String
    public var start: String
    public var end: String
    public var count: Int?
    public var reverse: Bool
    public init(_ stream: String, start: String = "-", end: String = "+", count: Int? = nil, reverse: Bool = false) {
        self.stream = stream
        self.start = start
        self.end = end
        self.count = count
        self.reverse = reverse
    }
    public var arguments: [RedisArgument] {
        var args: [RedisArgument] = [reverse ? "XREVRANGE" : "XRANGE", RedisArgument(stream), RedisArgument(start), RedisArgument(end)]
        if let count { args += ["COUNT", RedisArgument(count)] }
        return args
    }
    public func decode(_ reply: RESPValue) throws(RedisError) -> [StreamEntry] {
        try StreamEntry.decodeList(reply, "XRANGE")
    }
}

/// `XLEN stream`.
public struct XLEN: RedisCommand {
    public var stream: String
    public init(_ stream: String) { self.stream = stream }
    public var arguments: [RedisArgument] { ["XLEN", RedisArgument(stream)] }
    public func decode(_ reply: RESPValue) throws(RedisError) -> Int { try reply.expectInt("XLEN") }
}

/// `XTRIM stream MAXLEN|MINID [~] n` → how many entries were removed.
public struct XTRIM: RedisCommand {
    public var stream: String
    public var trim: StreamTrim
    public init(_ stream: String, _ trim: StreamTrim) {
        self.stream = stream
        self.trim = trim
    }
    public var arguments: [RedisArgument] { ["XTRIM", RedisArgument(stream)] + trim.arguments }
    public func decode(_ reply: RESPValue) throws(RedisError) -> Int { try reply.expectInt("XTRIM") }
}

/// `XDEL stream id…` → how many entries were deleted.
public struct XDEL: RedisCommand {
    public var stream: String
    public var ids: [String]
    public init(_ stream: String, ids: [String]) {
        self.stream = stream
        self.ids = ids
    }
    public var arguments: [RedisArgument] { ["XDEL", RedisArgument(stream)] + ids.map { RedisArgument($0) } }
    public func decode(_ reply: RESPValue) throws(RedisError) -> Int { try reply.expectInt("XDEL") }
}
