import Testing

@testable import Redis

@Suite("RESP encoding and parsing through hiredis")
struct RESPCodecTests {
    private func encode(_ args: [RedisArgument]) throws -> [UInt8] {
        var out: [UInt8] = []
        try HiredisCommandFormatter.format(args) { out.append(contentsOf: $0) }
        return out
    }

    private func parseAll(_ bytes: [UInt8], chunk: Int = .max) throws -> [RESPValue] {
        let reader = try HiredisReader()
        var replies: [RESPValue] = []
        var index = 0
        while index < bytes.count {
            let end = min(bytes.count, index + chunk)
            try bytes[index..<end].withUnsafeBytes { try reader.feed($0) }
            while let reply = try reader.nextReply() { replies.append(reply) }
            index = end
        }
        return replies
    }

    @Test func formatsACommandAsAnArrayOfBulkStrings() throws {
        let bytes = try encode(["SET", "key", "value"])
        #expect(String(decoding: bytes, as: UTF8.self) == "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n")
    }

    @Test(arguments: [
        [RedisArgument("PING")],
        ["SET", "k", RedisArgument(bytes: [])],
        ["SET", "bin", RedisArgument(bytes: [0, 13, 10, 255, 36, 42])],
        ["XADD", "s", "*", "payload", RedisArgument(String(repeating: "é", count: 10_000))],
    ])
    func encodedCommandsParseBackToTheSameArguments(_ args: [RedisArgument]) throws {
        let replies = try parseAll(try encode(args))
        #expect(replies == [.array(args.map { .bulkString($0.bytes) })])
    }

    @Test func parsesEveryReplyType() throws {
        let wire = "+OK\r\n-ERR wrong\r\n:42\r\n:-7\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n*2\r\n*1\r\n:1\r\n$1\r\nx\r\n"
        let replies = try parseAll(Array(wire.utf8))
        #expect(
            replies == [
                .simpleString("OK"), .error("ERR wrong"), .integer(42), .integer(-7), .bulkString(Array("hello".utf8)),
                .bulkString([]), .null, .null, .array([.array([.integer(1)]), .bulkString([120])]),
            ])
    }

    @Test(arguments: [1, 2, 3, 7])
    func repliesSplitAcrossReadsAreReassembled(chunk: Int) throws {
        let wire = Array("*3\r\n$5\r\n1-0\r\n\r\n:10\r\n*0\r\n+PONG\r\n".utf8)
        let replies = try parseAll(wire, chunk: chunk)
        #expect(replies == [.array([.bulkString(Array("1-0\r\n".utf8)), .integer(10), .array([])]), .simpleString("PONG")])
    }

    @Test func aStreamReadReplyNestsFiveLevelsDeep() throws {
        // XREADGROUP: [[stream, [[id, [field, value]]]]]
        let wire = "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
        let reply = try #require(try parseAll(Array(wire.utf8)).first)
        let read = try XREADGROUP(group: "g", consumer: "c", streams: [("s", ">")]).decode(reply)
        #expect(read == [StreamMessages(stream: "s", entries: [StreamEntry(id: "1-1", fields: ["f": "v"])])])
    }

    @Test func malformedInputIsAProtocolError() throws {
        let reader = try HiredisReader()
        let error = #expect(throws: RedisError.self) {
            try Array("?nonsense\r\n".utf8).withUnsafeBytes { try reader.feed($0) }
            _ = try reader.nextReply()
        }
        #expect(error?.code == .protocolError)
    }
}

@Suite("Redis URLs")
struct RedisConfigurationTests {
    @Test func parsesHostPortPasswordAndDatabase() throws {
        let c = try RedisConfiguration(url: "redis://:s3cret@10.1.2.3:6380/4")
        #expect(c.host == "10.1.2.3" && c.port == 6380 && c.password == "s3cret" && c.database == 4 && c.username == nil)
        let d = try RedisConfiguration(url: "redis://alice:pw@localhost")
        #expect(d.port == 6379 && d.username == "alice" && d.password == "pw" && d.database == 0)
    }

    @Test(arguments: ["http://localhost:6379", "redis://", "redis://host:6379/x", "not a url"])
    func rejectsBadURLs(_ url: String) {
        let error = #expect(throws: RedisError.self) { try RedisConfiguration(url: url) }
        #expect(error?.code == .invalidURL)
    }

    @Test func redactsPasswordsForLogs() {
        #expect(!RedisConfiguration.redacted("redis://:hunter2@h:1/0").contains("hunter2"))
    }
}

@Suite("Typed command arguments and replies")
struct RedisCommandTests {
    private func words(_ c: some RedisCommand) -> [String] { c.arguments.map { String(decoding: $0.bytes, as: UTF8.self) } }

    @Test func xaddPutsTrimmingBeforeTheID() {
        #expect(
            words(XADD("s", fields: [("e", "{}")], trim: .maxLength(1000)))
                == ["XADD", "s", "MAXLEN", "~", "1000", "*", "e", "{}"])
        #expect(
            words(XADD("s", fields: [("e", "1")], trim: .minID("5-0", approximate: false), noMakeStream: true))
                == ["XADD", "s", "NOMKSTREAM", "MINID", "=", "5-0", "*", "e", "1"])
    }

    @Test func xreadgroupOrdersOptions() {
        let c = XREADGROUP(
            group: "g", consumer: "c1", streams: [("a", ">"), ("b", "0")], count: 10, block: .milliseconds(1500),
            noAck: true)
        #expect(
            words(c) == [
                "XREADGROUP", "GROUP", "g", "c1", "COUNT", "10", "BLOCK", "1500", "NOACK", "STREAMS", "a", "b", ">", "0",
            ])
        #expect(c.blockingTime == .milliseconds(1500))
    }

    @Test func setOptions() throws {
        #expect(words(SET("k", value: "v", expiry: .seconds(10), condition: .ifNotExists)) == ["SET", "k", "v", "EX", "10", "NX"])
        #expect(words(SET("k", value: "v", expiry: .milliseconds(5), condition: .ifExists)) == ["SET", "k", "v", "PX", "5", "XX"])
        #expect(try SET("k", value: "v", condition: .ifNotExists).decode(.null) == false)
    }

    @Test func xautoclaimSeparatesDeletedEntries() throws {
        let reply = RESPValue.array([
            .bulkString(Array("0-0".utf8)),
            .array([.array([.bulkString(Array("1-0".utf8)), .array([.bulkString([102]), .bulkString([118])])])]),
            .array([.bulkString(Array("2-0".utf8))]),
        ])
        let result = try XAUTOCLAIM("s", group: "g", consumer: "c", minIdle: .seconds(30)).decode(reply)
        #expect(result.nextStart == "0-0")
        #expect(result.entries == [StreamEntry(id: "1-0", fields: ["f": "v"])])
        #expect(result.deletedIDs == ["2-0"])
    }

    @Test func unexpectedShapesAreTypedErrors() {
        let error = #expect(throws: RedisError.self) { try XLEN("s").decode(.array([])) }
        #expect(error?.code == .unexpectedReply)
    }
}
