import Foundation

/// Reads JSON without `JSONDecoder`, for the messages workers and gateways read on every round
/// trip: into a `JSONValue`, or straight into an ``Envelope`` or a ``Reply`` (no tree for their
/// own members). It gives up (nil) on anything unusual: invalid JSON, nesting deeper than 64, a
/// number `Decimal` cannot hold, a member of an unexpected type. Callers then fall back to
/// `JSONDecoder`, which decides, and words the error; so this only has to be right when it succeeds.
public enum JSONReader {
    public static func value(_ bytes: some Collection<UInt8>) -> JSONValue? {
        whole(bytes) { $0.value(depth: 0) }
    }

    /// An envelope, read member by member (its payload as a `JSONValue`).
    public static func envelope(_ bytes: some Collection<UInt8>) -> Envelope? {
        whole(bytes) { Envelope(reading: &$0, depth: 0) }
    }

    /// A reply, read member by member (its result as a `JSONValue`).
    public static func reply(_ bytes: some Collection<UInt8>) -> Reply? {
        whole(bytes) { Reply(reading: &$0, depth: 0) }
    }

    /// A JSON array of replies (a reply-stream entry holding a batch's replies).
    public static func replies(_ bytes: some Collection<UInt8>) -> [Reply]? {
        whole(bytes) { p in
            var replies: [Reply] = []
            let read = p.elements { p in
                guard let reply = Reply(reading: &p, depth: 1) else { return false }
                replies.append(reply)
                return true
            }
            return read ? replies : nil
        }
    }

    /// Runs `read` over the bytes (in place when they are contiguous); nil unless it read them all.
    private static func whole<T>(_ bytes: some Collection<UInt8>, _ read: (inout Parser) -> T?) -> T? {
        func parse(_ buffer: UnsafeBufferPointer<UInt8>) -> T? {
            var parser = Parser(bytes: buffer)
            guard let value = read(&parser) else { return nil }
            parser.skipSpace()
            return parser.index == buffer.count ? value : nil
        }
        if let parsed = bytes.withContiguousStorageIfAvailable(parse) { return parsed }
        return Array(bytes).withUnsafeBufferPointer(parse)
    }

    /// A cursor over bytes that outlive it (only ever made inside ``whole(_:_:)``).
    struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        /// Reads `open`, then items separated by commas (each read by `item`), then `close`; false: give up.
        private mutating func sequence(_ open: UInt8, _ close: UInt8, _ item: (inout Parser) -> Bool) -> Bool {
            skipSpace()
            guard index < bytes.count, bytes[index] == open else { return false }
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == close {
                index += 1
                return true
            }
            while true {
                skipSpace()
                guard item(&self) else { return false }
                skipSpace()
                guard index < bytes.count else { return false }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == close {
                    index += 1
                    return true
                } else {
                    return false
                }
            }
        }

        /// Reads an object, handing each key to `member`, which must read the member's value (false: give up).
        mutating func members(_ member: (String, inout Parser) -> Bool) -> Bool {
            sequence(UInt8(ascii: "{"), UInt8(ascii: "}")) { p in
                guard let key = p.string() else { return false }
                p.skipSpace()
                guard p.index < p.bytes.count, p.bytes[p.index] == UInt8(ascii: ":") else { return false }
                p.index += 1
                p.skipSpace()
                return member(key, &p)
            }
        }

        /// Reads an array, calling `element` to read each item (false: give up).
        mutating func elements(_ element: (inout Parser) -> Bool) -> Bool {
            sequence(UInt8(ascii: "["), UInt8(ascii: "]"), element)
        }

        /// A string, or null (.some(nil)); anything else gives up (nil).
        mutating func optionalString() -> String?? {
            if index < bytes.count, bytes[index] == UInt8(ascii: "n") { return literal("null", .null).map { _ in nil } }
            return string().map { .some($0) }
        }

        /// A boolean, or null (.some(nil)); anything else gives up (nil).
        mutating func optionalBool() -> Bool?? {
            switch value(depth: 0) {
            case .null?: .some(nil)
            case .bool(let b)?: .some(b)
            default: nil
            }
        }

        /// A time in RFC 3339, or null (.some(nil)); anything else gives up (nil).
        mutating func optionalDate() -> Date?? {
            guard let text = optionalString() else { return nil }
            guard let text else { return .some(nil) }
            return MessageCoding.parseTimestamp(text).map { .some($0) }
        }

        /// An integer number (as `JSONDecoder` reads an `Int`).
        mutating func int() -> Int? {
            guard case .number(let text)? = number() else { return nil }
            return Int(text)
        }

        /// An array of strings, at nesting level `depth`.
        mutating func strings(depth: Int) -> [String]? {
            guard case .array(let values)? = value(depth: depth) else { return nil }
            let strings = values.compactMap(\.stringValue)
            return strings.count == values.count ? strings : nil
        }

        mutating func skipSpace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x0A, 0x0D, 0x09: index += 1
                default: return
                }
            }
        }

        mutating func literal(_ word: String, _ value: JSONValue) -> JSONValue? {
            let count = word.utf8.count
            guard index + count <= bytes.count, bytes[index..<index + count].elementsEqual(word.utf8) else { return nil }
            index += count
            return value
        }

        mutating func value(depth: Int) -> JSONValue? {
            guard depth < 64 else { return nil }
            skipSpace()
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                var members: [String: JSONValue] = [:]
                let read = self.members { key, p in
                    guard let member = p.value(depth: depth + 1) else { return false }
                    members[key] = member
                    return true
                }
                return read ? .object(members) : nil
            case UInt8(ascii: "["):
                var items: [JSONValue] = []
                let read = elements { p in
                    guard let item = p.value(depth: depth + 1) else { return false }
                    items.append(item)
                    return true
                }
                return read ? .array(items) : nil
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
            // Fast path: no escapes; and plain ASCII (every byte below 0x80) needs no UTF-8 validation.
            var high: UInt8 = 0
            while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"), bytes[index] >= 0x20 {
                high |= bytes[index]
                index += 1
            }
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "\"") {
                defer { index += 1 }
                let text = UnsafeBufferPointer(rebasing: bytes[start..<index])
                return high < 0x80 ? String(decoding: text, as: UTF8.self) : String(validating: text, as: UTF8.self)
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

/// Stores a member read as optional (`.some(nil)` for null); false when it could not be read.
private func assign<T>(_ read: T??, to target: inout T?) -> Bool {
    guard let read else { return false }
    target = read
    return true
}

// The hot-path types, read member by member; nil when anything is missing or mistyped (the
// caller then lets `JSONDecoder` produce the precise error). Unknown members are read and ignored.
extension Principal {
    init?(reading p: inout JSONReader.Parser, depth: Int) {
        var subject: String?, role: Role?, tenant: String?, scopes: [String]?
        var customerID: String?, tokenID: String?
        let read = p.members { key, p in
            switch key {
            case "subject": subject = p.string(); return subject != nil
            case "role": role = p.string().flatMap(Role.init(rawValue:)); return role != nil
            case "tenant": tenant = p.string(); return tenant != nil
            case "scopes": scopes = p.strings(depth: depth + 1); return scopes != nil
            case "customer_id": return assign(p.optionalString(), to: &customerID)
            case "token_id": return assign(p.optionalString(), to: &tokenID)
            default: return p.value(depth: depth + 1) != nil
            }
        }
        guard read, let subject, let role, let tenant, let scopes else { return nil }
        self.init(subject: subject, role: role, scopes: scopes, tenant: tenant, customerID: customerID, tokenID: tokenID)
    }
}

extension Envelope {
    init?(reading p: inout JSONReader.Parser, depth: Int) {
        var id: String?, type: String?, correlationID: String?, replyTo: String?, createdAt: Date?
        var principal: Principal?, payload: JSONValue?
        var causationID: String?, idempotencyKey: String?, traceparent: String?, deadline: Date?, respondAsync: Bool?
        let read = p.members { key, p in
            switch key {
            case "id": id = p.string(); return id != nil
            case "type": type = p.string(); return type != nil
            case "correlation_id": correlationID = p.string(); return correlationID != nil
            case "reply_to": replyTo = p.string(); return replyTo != nil
            case "created_at": createdAt = p.string().flatMap(MessageCoding.parseTimestamp); return createdAt != nil
            case "principal": principal = Principal(reading: &p, depth: depth + 1); return principal != nil
            case "payload": payload = p.value(depth: depth + 1); return payload != nil
            case "causation_id": return assign(p.optionalString(), to: &causationID)
            case "idempotency_key": return assign(p.optionalString(), to: &idempotencyKey)
            case "traceparent": return assign(p.optionalString(), to: &traceparent)
            case "deadline": return assign(p.optionalDate(), to: &deadline)
            case "respond_async": return assign(p.optionalBool(), to: &respondAsync)
            default: return p.value(depth: depth + 1) != nil
            }
        }
        guard read, let id, let type, let correlationID, let replyTo, let principal, let payload, let createdAt else {
            return nil
        }
        self.init(
            id: id, type: type, correlationID: correlationID, causationID: causationID, replyTo: replyTo,
            principal: principal, idempotencyKey: idempotencyKey, deadline: deadline, traceparent: traceparent,
            payload: payload, createdAt: createdAt, respondAsync: respondAsync)
    }
}

extension Problem {
    init?(reading p: inout JSONReader.Parser, depth: Int) {
        var type: String?, title: String?, status: Int?, detail: String?, code: String?, param: String?
        var retryAfter: Int?
        let read = p.members { key, p in
            switch key {
            case "type": type = p.string(); return type != nil
            case "title": title = p.string(); return title != nil
            case "status": status = p.int(); return status != nil
            case "detail": detail = p.string(); return detail != nil
            case "code": code = p.string(); return code != nil
            case "param": return assign(p.optionalString(), to: &param)
            case "retry_after": retryAfter = p.int(); return retryAfter != nil
            default: return p.value(depth: depth + 1) != nil
            }
        }
        guard read, let type, let title, let status, let detail, let code else { return nil }
        self.init(status: status, code: code, title: title, detail: detail, param: param, retryAfter: retryAfter)
        self.type = type
    }
}

extension Reply {
    init?(reading p: inout JSONReader.Parser, depth: Int) {
        var id: String?, correlationID: String?, status: Status?, httpStatus: Int?, completedAt: Date?
        var result: JSONValue?, problem: Problem?, secretFields: [String]?
        let read = p.members { key, p in
            switch key {
            case "id": id = p.string(); return id != nil
            case "correlation_id": correlationID = p.string(); return correlationID != nil
            case "status": status = p.string().flatMap(Status.init(rawValue:)); return status != nil
            case "http_status": httpStatus = p.int(); return httpStatus != nil
            case "completed_at": completedAt = p.string().flatMap(MessageCoding.parseTimestamp); return completedAt != nil
            case "result":
                // `result: null` decodes as nil with JSONDecoder too.
                guard let value = p.value(depth: depth + 1) else { return false }
                result = value == .null ? nil : value
                return true
            case "error":
                if p.literal("null", .null) != nil {
                    problem = nil
                    return true
                }
                problem = Problem(reading: &p, depth: depth + 1)
                return problem != nil
            case "secret_fields":
                if p.literal("null", .null) != nil {
                    secretFields = nil
                    return true
                }
                secretFields = p.strings(depth: depth + 1)
                return secretFields != nil
            default: return p.value(depth: depth + 1) != nil
            }
        }
        guard read, let id, let correlationID, let status, let httpStatus, let completedAt else { return nil }
        self.init(
            id: id, correlationID: correlationID, status: status, httpStatus: httpStatus, result: result, error: problem,
            completedAt: completedAt, secretFields: secretFields)
    }
}

extension MessageCoding {
    public static func decode(_ type: Envelope.Type, from data: Data) throws -> Envelope {
        if let envelope = JSONReader.envelope(data) { return envelope }
        return try decode(type, generic: data)
    }

    public static func decode(_ type: Envelope.Type, from text: String) throws -> Envelope {
        if let envelope = JSONReader.envelope(text.utf8) { return envelope }
        return try decode(type, generic: Data(text.utf8))
    }

    public static func decode(_ type: Reply.Type, from data: Data) throws -> Reply {
        if let reply = JSONReader.reply(data) { return reply }
        return try decode(type, generic: data)
    }

    public static func decode(_ type: [Reply].Type, from text: String) throws -> [Reply] {
        if let replies = JSONReader.replies(text.utf8) { return replies }
        return try decode(type, generic: Data(text.utf8))
    }

    public static func decode(_ type: Reply.Type, from text: String) throws -> Reply {
        if let reply = JSONReader.reply(text.utf8) { return reply }
        return try decode(type, generic: Data(text.utf8))
    }

    /// The general path, named so the overloads above can reach it.
    package static func decode<T: Decodable>(_ type: T.Type, generic data: Data) throws -> T {
        try decode(type as T.Type, from: data as Data)
    }
}
