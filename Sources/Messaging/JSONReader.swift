import Foundation

/// Reads JSON into a `JSONValue` without `JSONDecoder`, for the messages workers and gateways read
/// on every round trip. It gives up (nil) on anything unusual: invalid JSON, nesting deeper than 64,
/// a number `Decimal` cannot hold. Callers then fall back to `JSONDecoder`, which decides, and
/// words the error; so this only has to be right when it succeeds.
public enum JSONReader {
    public static func value(_ bytes: some Collection<UInt8>) -> JSONValue? {
        let buffer = Array(bytes)
        var parser = Parser(bytes: buffer)
        guard let value = parser.value(depth: 0) else { return nil }
        parser.skipSpace()
        return parser.index == buffer.count ? value : nil
    }

    struct Parser {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
        }

        mutating func literal(_ word: String, _ value: JSONValue) -> JSONValue? {
            let utf8 = Array(word.utf8)
            guard index + utf8.count <= bytes.count, Array(bytes[index..<index + utf8.count]) == utf8 else { return nil }
            index += utf8.count
            return value
        }

        mutating func value(depth: Int) -> JSONValue? {
            guard depth < 64 else { return nil }
            skipSpace()
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var members: [String: JSONValue] = [:]
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object(members)
                }
                while true {
                    skipSpace()
                    guard let key = string() else { return nil }
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
                    index += 1
                    guard let member = value(depth: depth + 1) else { return nil }
                    members[key] = member
                    skipSpace()
                    guard index < bytes.count else { return nil }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                    } else if bytes[index] == UInt8(ascii: "}") {
                        index += 1
                        return .object(members)
                    } else {
                        return nil
                    }
                }
            case UInt8(ascii: "["):
                index += 1
                var items: [JSONValue] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(items)
                }
                while true {
                    guard let item = value(depth: depth + 1) else { return nil }
                    items.append(item)
                    skipSpace()
                    guard index < bytes.count else { return nil }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                    } else if bytes[index] == UInt8(ascii: "]") {
                        index += 1
                        return .array(items)
                    } else {
                        return nil
                    }
                }
            case UInt8(ascii: "\""): return string().map(JSONValue.string)
            case UInt8(ascii: "t"): return literal("true", .bool(true))
            case UInt8(ascii: "f"): return literal("false", .bool(false))
            case UInt8(ascii: "n"): return literal("null", .null)
            default: return number()
            }
        }

        /// A number, normalised as `JSONValue` does when `JSONDecoder` reads it (through `Decimal`).
        mutating func number() -> JSONValue? {
            let start = index
            while index < bytes.count,
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) || bytes[index] == UInt8(ascii: "-")
                    || bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: ".")
                    || bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")
            {
                index += 1
            }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            // Plain integers of up to 18 digits are already in normal form.
            if text.count <= 18, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                text == "0" || text.first != "0"
            {
                return .number(text)
            }
            guard JSONWriter.isJSONNumber(text), let decimal = Decimal(string: text), decimal.isFinite else { return nil }
            return .number("\(decimal)")
        }

        mutating func string() -> String? {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            index += 1
            let start = index
            // Fast path: no escapes.
            while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"), bytes[index] >= 0x20 {
                index += 1
            }
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "\"") {
                defer { index += 1 }
                return String(validating: bytes[start..<index], as: UTF8.self)
            }
            var out = Array(bytes[start..<index])
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return String(validating: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    index += 1
                    guard index < bytes.count else { return nil }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        guard var scalar = hex4() else { return nil }
                        if (0xD800...0xDBFF).contains(scalar) {
                            // A high surrogate must be followed by an escaped low one.
                            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                            else { return nil }
                            index += 2
                            guard let low = hex4(), (0xDC00...0xDFFF).contains(low) else { return nil }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(scalar) {
                            return nil
                        }
                        guard let unicode = Unicode.Scalar(scalar) else { return nil }
                        out.append(contentsOf: String(Character(unicode)).utf8)
                    default: return nil
                    }
                case 0x00..<0x20: return nil
                default:
                    out.append(byte)
                    index += 1
                }
            }
            return nil
        }

        mutating func hex4() -> UInt32? {
            guard index + 4 <= bytes.count else { return nil }
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let digit = MessageID.hexValue(bytes[index]) else { return nil }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }
    }
}

// The hot-path types read from a `JSONValue` tree; nil when anything is missing or mistyped (the
// caller then lets `JSONDecoder` produce the precise error).
extension Principal {
    init?(json: JSONValue) {
        guard case .object(let o) = json, let subject = o["subject"]?.stringValue,
            let role = o["role"]?.stringValue.flatMap(Role.init(rawValue:)), let tenant = o["tenant"]?.stringValue,
            case .array(let scopeValues)? = o["scopes"]
        else { return nil }
        let scopes = scopeValues.compactMap(\.stringValue)
        guard scopes.count == scopeValues.count else { return nil }
        guard let customerID = optionalString(o, "customer_id"), let tokenID = optionalString(o, "token_id") else {
            return nil
        }
        self.init(subject: subject, role: role, scopes: scopes, tenant: tenant, customerID: customerID, tokenID: tokenID)
    }
}

/// An optional string member: absent or null → .some(nil); another type → nil (give up).
private func optionalString(_ o: [String: JSONValue], _ key: String) -> String?? {
    switch o[key] {
    case nil, .null?: .some(nil)
    case .string(let s)?: .some(s)
    default: nil
    }
}

private func optionalBool(_ o: [String: JSONValue], _ key: String) -> Bool?? {
    switch o[key] {
    case nil, .null?: .some(nil)
    case .bool(let b)?: .some(b)
    default: nil
    }
}

private func optionalDate(_ o: [String: JSONValue], _ key: String) -> Date?? {
    switch o[key] {
    case nil, .null?: return .some(nil)
    case .string(let s)?:
        guard let date = MessageCoding.parseTimestamp(s) else { return nil }
        return .some(date)
    default: return nil
    }
}

extension Envelope {
    init?(json: JSONValue) {
        guard case .object(let o) = json, let id = o["id"]?.stringValue, let type = o["type"]?.stringValue,
            let correlationID = o["correlation_id"]?.stringValue, let replyTo = o["reply_to"]?.stringValue,
            let principal = o["principal"].flatMap(Principal.init(json:)), let payload = o["payload"],
            let createdText = o["created_at"]?.stringValue, let createdAt = MessageCoding.parseTimestamp(createdText),
            let causationID = optionalString(o, "causation_id"), let idempotencyKey = optionalString(o, "idempotency_key"),
            let traceparent = optionalString(o, "traceparent"), let deadline = optionalDate(o, "deadline"),
            let respondAsync = optionalBool(o, "respond_async")
        else { return nil }
        self.init(
            id: id, type: type, correlationID: correlationID, causationID: causationID, replyTo: replyTo,
            principal: principal, idempotencyKey: idempotencyKey, deadline: deadline, traceparent: traceparent,
            payload: payload, createdAt: createdAt, respondAsync: respondAsync)
    }
}

extension Problem {
    init?(json: JSONValue) {
        guard case .object(let o) = json, let type = o["type"]?.stringValue, let title = o["title"]?.stringValue,
            case .number(let statusText)? = o["status"], let status = Int(statusText),
            let detail = o["detail"]?.stringValue, let code = o["code"]?.stringValue,
            let param = optionalString(o, "param")
        else { return nil }
        self.init(status: status, code: code, title: title, detail: detail, param: param)
        self.type = type
    }
}

extension Reply {
    init?(json: JSONValue) {
        guard case .object(let o) = json, let id = o["id"]?.stringValue,
            let correlationID = o["correlation_id"]?.stringValue,
            let status = o["status"]?.stringValue.flatMap(Status.init(rawValue:)),
            case .number(let httpText)? = o["http_status"], let httpStatus = Int(httpText),
            let completedText = o["completed_at"]?.stringValue, let completedAt = MessageCoding.parseTimestamp(completedText)
        else { return nil }
        var problem: Problem?
        switch o["error"] {
        case nil, .null?: problem = nil
        case let value?:
            guard let parsed = Problem(json: value) else { return nil }
            problem = parsed
        }
        // `result: null` decodes as nil with JSONDecoder too.
        let result: JSONValue? = o["result"].flatMap { $0 == .null ? nil : $0 }
        var secretFields: [String]?
        switch o["secret_fields"] {
        case nil, .null?: secretFields = nil
        case .array(let values)?:
            secretFields = values.compactMap(\.stringValue)
            guard secretFields?.count == values.count else { return nil }
        default: return nil
        }
        self.init(
            id: id, correlationID: correlationID, status: status, httpStatus: httpStatus, result: result, error: problem,
            completedAt: completedAt, secretFields: secretFields)
    }
}

extension MessageCoding {
    public static func decode(_ type: Envelope.Type, from data: Data) throws -> Envelope {
        if let envelope = JSONReader.value(data).flatMap(Envelope.init(json:)) { return envelope }
        return try decode(type, generic: data)
    }

    public static func decode(_ type: Envelope.Type, from text: String) throws -> Envelope {
        try decode(type, from: Data(text.utf8))
    }

    public static func decode(_ type: Reply.Type, from data: Data) throws -> Reply {
        if let reply = JSONReader.value(data).flatMap(Reply.init(json:)) { return reply }
        return try decode(type, generic: data)
    }

    public static func decode(_ type: Reply.Type, from text: String) throws -> Reply {
        try decode(type, from: Data(text.utf8))
    }

    /// The `JSONDecoder` path, named so the overloads above can reach it.
    static func decode<T: Decodable>(_ type: T.Type, generic data: Data) throws -> T {
        try decode(type as T.Type, from: data as Data)
    }
}
