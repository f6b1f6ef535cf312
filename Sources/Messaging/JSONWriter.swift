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

// The hot-path types as JSON trees, with the keys and omissions their `Codable` conformances use.
extension Principal {
    var jsonValue: JSONValue {
        var o: [String: JSONValue] = [
            "subject": .string(subject), "role": .string(role.rawValue), "scopes": .array(scopes.map(JSONValue.string)),
            "tenant": .string(tenant),
        ]
        if let customerID { o["customer_id"] = .string(customerID) }
        if let tokenID { o["token_id"] = .string(tokenID) }
        return .object(o)
    }
}

extension Envelope {
    var jsonValue: JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id), "type": .string(type), "correlation_id": .string(correlationID),
            "reply_to": .string(replyTo), "principal": principal.jsonValue, "payload": payload,
            "created_at": .string(MessageCoding.formatTimestamp(createdAt)),
        ]
        if let causationID { o["causation_id"] = .string(causationID) }
        if let idempotencyKey { o["idempotency_key"] = .string(idempotencyKey) }
        if let deadline { o["deadline"] = .string(MessageCoding.formatTimestamp(deadline)) }
        if let traceparent { o["traceparent"] = .string(traceparent) }
        if let respondAsync { o["respond_async"] = .bool(respondAsync) }
        return .object(o)
    }
}

extension Problem {
    var jsonValue: JSONValue {
        var o: [String: JSONValue] = [
            "type": .string(type), "title": .string(title), "status": .number(String(status)), "detail": .string(detail),
            "code": .string(code),
        ]
        if let param { o["param"] = .string(param) }
        return .object(o)
    }
}

extension Reply {
    var jsonValue: JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id), "correlation_id": .string(correlationID), "status": .string(status.rawValue),
            "http_status": .number(String(httpStatus)), "completed_at": .string(MessageCoding.formatTimestamp(completedAt)),
        ]
        if let result { o["result"] = result }
        if let error { o["error"] = error.jsonValue }
        if let secretFields { o["secret_fields"] = .array(secretFields.map(JSONValue.string)) }
        return .object(o)
    }
}

extension OperationRecord {
    /// The record around a reply already written as JSON (the worker writes each reply once, for
    /// the reply stream and for the operation's state).
    static func data(replyJSON: Data, subject: String, tenant: String, customerID: String? = nil) -> Data {
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
        return Data(out)
    }
}

extension MessageCoding {
    public static func encode(_ envelope: Envelope) throws -> Data { JSONWriter.data(envelope.jsonValue) }
    public static func encode(_ reply: Reply) throws -> Data { JSONWriter.data(reply.jsonValue) }
    public static func encode(_ record: OperationRecord) throws -> Data {
        OperationRecord.data(
            replyJSON: try encode(record.reply), subject: record.subject, tenant: record.tenant, customerID: record.customerID)
    }
    public static func encode(_ value: JSONValue) throws -> Data { JSONWriter.data(value) }
}
