import Foundation

/// Writes JSON without `JSONEncoder` for the types on the hot path (every command, reply and
/// answer): `JSONValue` trees, and envelopes, replies and operation records built as such trees.
/// Keys are sorted (deterministic output); strings are escaped as RFC 8259 requires; `/` is not
/// escaped. Whatever it writes, `MessageCoding.decode` reads back to an equal value.
public enum JSONWriter {
    public static func data(_ value: JSONValue) -> Data {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, into: &out)
        return Data(out)
    }

    public static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let text): writeNumber(text, into: &out)
        case .string(let s): writeString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, key) in members.keys.sorted().enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                // The key came from the dictionary itself.
                write(members[key] ?? .null, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings (IDs, types, times) need no escaping: copied whole.
        let plain =
            s.utf8.withContiguousStorageIfAvailable { bytes in
                for byte in bytes where byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 {
                    return false
                }
                out.append(contentsOf: bytes)
                return true
            } ?? false
        if plain {
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x00..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(Hex.digits[Int(byte >> 4)])
                out.append(Hex.digits[Int(byte & 0x0F)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// A number's text as it is when it is a valid JSON number; otherwise as `Decimal` reads it
    /// (what `JSONEncoder` wrote for `JSONValue` numbers), or 0.
    static func writeNumber(_ text: String, into out: inout [UInt8]) {
        if isJSONNumber(text) {
            out.append(contentsOf: text.utf8)
        } else {
            out.append(contentsOf: (Decimal(string: text).map { "\($0)" } ?? "0").utf8)
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    static func isJSONNumber(_ text: String) -> Bool {
        let c = Array(text.utf8)
        var i = 0
        func digits() -> Int {
            let start = i
            while i < c.count, c[i] >= UInt8(ascii: "0"), c[i] <= UInt8(ascii: "9") { i += 1 }
            return i - start
        }
        if i < c.count, c[i] == UInt8(ascii: "-") { i += 1 }
        guard i < c.count else { return false }
        if c[i] == UInt8(ascii: "0") {
            i += 1
        } else if digits() == 0 {
            return false
        }
        if i < c.count, c[i] == UInt8(ascii: ".") {
            i += 1
            guard digits() > 0 else { return false }
        }
        if i < c.count, c[i] == UInt8(ascii: "e") || c[i] == UInt8(ascii: "E") {
            i += 1
            if i < c.count, c[i] == UInt8(ascii: "+") || c[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { return false }
        }
        return i == c.count
    }
}

/// Writes an object's members in the order they are given (the hot types give them sorted, as
/// the tree writer sorts them), without building a `JSONValue` tree first.
struct JSONObjectWriter {
    private(set) var out: [UInt8]
    private var empty = true

    init(capacity: Int = 256) {
        out = []
        out.reserveCapacity(capacity)
        out.append(UInt8(ascii: "{"))
    }

    private mutating func key(_ name: StaticString) {
        if !empty { out.append(UInt8(ascii: ",")) }
        empty = false
        out.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { out.append(contentsOf: $0) }
        out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }

    mutating func string(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        key(name)
        JSONWriter.writeString(value, into: &out)
    }

    mutating func time(_ name: StaticString, _ value: Date?) {
        string(name, value.map(MessageCoding.formatTimestamp))
    }

    mutating func int(_ name: StaticString, _ value: Int) {
        key(name)
        out.append(contentsOf: String(value).utf8)
    }

    mutating func bool(_ name: StaticString, _ value: Bool?) {
        guard let value else { return }
        key(name)
        out.append(contentsOf: (value ? "true" : "false").utf8)
    }

    mutating func strings(_ name: StaticString, _ values: [String]?) {
        guard let values else { return }
        key(name)
        out.append(UInt8(ascii: "["))
        for (i, value) in values.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONWriter.writeString(value, into: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    mutating func value(_ name: StaticString, _ value: JSONValue?) {
        guard let value else { return }
        key(name)
        JSONWriter.write(value, into: &out)
    }

    mutating func object(_ name: StaticString, _ bytes: [UInt8]?) {
        guard let bytes else { return }
        key(name)
        out.append(contentsOf: bytes)
    }

    mutating func finish() -> [UInt8] {
        out.append(UInt8(ascii: "}"))
        return out
    }
}

extension Principal {
    /// Keys sorted: customer_id, role, scopes, subject, tenant, token_id.
    package var jsonBytes: [UInt8] {
        var w = JSONObjectWriter(capacity: 128)
        w.string("customer_id", customerID)
        w.string("role", role.rawValue)
        w.strings("scopes", scopes)
        w.string("subject", subject)
        w.string("tenant", tenant)
        w.string("token_id", tokenID)
        return w.finish()
    }
}

extension Envelope {
    /// Keys sorted, optional ones omitted when nil (as the `Codable` conformance does).
    package var jsonBytes: [UInt8] {
        var w = JSONObjectWriter(capacity: 512)
        w.string("causation_id", causationID)
        w.string("correlation_id", correlationID)
        w.time("created_at", createdAt)
        w.time("deadline", deadline)
        w.string("id", id)
        w.string("idempotency_key", idempotencyKey)
        w.value("payload", payload)
        w.object("principal", principal.jsonBytes)
        w.string("reply_to", replyTo)
        w.bool("respond_async", respondAsync)
        w.string("traceparent", traceparent)
        w.string("type", type)
        return w.finish()
    }
}

extension Problem {
    /// Keys sorted: code, detail, param, retry_after, status, title, type.
    package var jsonBytes: [UInt8] {
        var w = JSONObjectWriter(capacity: 256)
        w.string("code", code)
        w.string("detail", detail)
        w.string("param", param)
        if let retryAfter { w.int("retry_after", retryAfter) }
        w.int("status", status)
        w.string("title", title)
        w.string("type", type)
        return w.finish()
    }
}

extension Reply {
    /// Keys sorted: completed_at, correlation_id, error, http_status, id, result, secret_fields, status.
    package var jsonBytes: [UInt8] {
        var w = JSONObjectWriter(capacity: 512)
        w.time("completed_at", completedAt)
        w.string("correlation_id", correlationID)
        w.object("error", error?.jsonBytes)
        w.int("http_status", httpStatus)
        w.string("id", id)
        w.value("result", result)
        w.strings("secret_fields", secretFields)
        w.string("status", status.rawValue)
        return w.finish()
    }
}

// Problem as a JSON tree too: `operation.completed` embeds it in a payload.
extension Problem {
    var jsonValue: JSONValue {
        var o: [String: JSONValue] = [
            "type": .string(type), "title": .string(title), "status": .number(String(status)), "detail": .string(detail),
            "code": .string(code),
        ]
        if let param { o["param"] = .string(param) }
        if let retryAfter { o["retry_after"] = .number(String(retryAfter)) }
        return .object(o)
    }
}

extension OperationRecord {
    /// The record around a reply already written as JSON (the worker writes each reply once, for
    /// the reply stream and for the operation's state).
    static func data(replyJSON: some Collection<UInt8>, subject: String, tenant: String, customerID: String? = nil) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(replyJSON.count + subject.utf8.count + tenant.utf8.count + 40)
        out.append(contentsOf: #"{"reply":"#.utf8)
        out.append(contentsOf: replyJSON)
        out.append(contentsOf: #","subject":"#.utf8)
        JSONWriter.writeString(subject, into: &out)
        out.append(contentsOf: #","tenant":"#.utf8)
        JSONWriter.writeString(tenant, into: &out)
        if let customerID {
            out.append(contentsOf: #","customer_id":"#.utf8)
            JSONWriter.writeString(customerID, into: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}

extension MessageCoding {
    public static func encode(_ envelope: Envelope) throws -> Data { Data(envelope.jsonBytes) }
    public static func encode(_ reply: Reply) throws -> Data { Data(reply.jsonBytes) }
    public static func encode(_ record: OperationRecord) throws -> Data {
        Data(
            OperationRecord.data(
                replyJSON: record.reply.jsonBytes, subject: record.subject, tenant: record.tenant,
                customerID: record.customerID))
    }
    public static func encode(_ value: JSONValue) throws -> Data { JSONWriter.data(value) }
}
