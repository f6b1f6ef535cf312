import FieldNames
import Foundation

/// Decodes a command's typed payload (``BusCommand/Payload``) from the JSON it arrived as.
///
/// Property names are read as snake_case (``FieldNames/snakeCase(_:)``: `intervalCount` reads
/// `interval_count`), so payload types need no `CodingKeys`. A field the type does not declare is
/// refused, as the schemas' `additionalProperties: false` says. Every failure is one 422
/// ``Problem`` whose `param` is the field's path as the client wrote it (`name`, `features[2]`,
/// `metadata.plan`), without the envelope's `path`/`query`/`body` level.
public enum PayloadDecoder {
    public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws(Problem) -> T {
        do {
            return try _PayloadDecoder(value: value, codingPath: []).unbox(T.self)
        } catch let error as PayloadDecodingError {
            throw error.problem
        } catch let problem as Problem {
            throw problem
        } catch let error as FieldError {
            throw Problem.invalid("body", "the payload \(error.detail)")
        } catch {
            throw Problem.invalid("body", "the payload cannot be read: \(error)")
        }
    }

    /// The client's name for a coding path: `features[2]`, `metadata.plan`.
    static func param(_ path: [any CodingKey]) -> String {
        var components = path
        if let first = components.first, first.intValue == nil, ["path", "query", "body"].contains(first.stringValue),
            components.count > 1
        {
            components.removeFirst()
        }
        var text = ""
        for key in components {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text.isEmpty ? "body" : text
    }
}

/// Thrown by a field type's `init(from:)` when the value has the right JSON type but breaks a rule:
/// the decoder turns it into a 422 whose detail is the field's name followed by `detail`
/// ("must be at most 200 characters").
public struct FieldError: Error, Sendable {
    public let detail: String
    public init(_ detail: String) { self.detail = detail }
}

struct PayloadDecodingError: Error, ProblemConvertible {
    let problem: Problem

    init(_ path: [any CodingKey], _ detail: String) {
        let param = PayloadDecoder.param(path)
        problem = .invalid(param, "\(param) \(detail)")
    }

    static func unknownField(_ path: [any CodingKey]) -> PayloadDecodingError {
        PayloadDecodingError(path, "is not a known field")
    }
}

/// A key read from or named after a payload field.
struct PayloadKey: CodingKey {
    let stringValue: String
    let intValue: Int?
    init(stringValue: String) { (self.stringValue, intValue) = (stringValue, nil) }
    init(intValue: Int) { (stringValue, self.intValue) = ("\(intValue)", intValue) }
}

/// `[String: V]` payload fields (metadata): their keys are data, never converted.
protocol _PayloadStringKeyedDictionary {
    static func _payloadDecode(_ fields: [String: JSONValue], decoder: _PayloadDecoder) throws -> Self
}

extension Dictionary: _PayloadStringKeyedDictionary where Key == String, Value: Decodable {
    static func _payloadDecode(_ fields: [String: JSONValue], decoder: _PayloadDecoder) throws -> Self {
        var result: [String: Value] = [:]
        result.reserveCapacity(fields.count)
        for (key, value) in fields {
            result[key] = try decoder.child(value, at: PayloadKey(stringValue: key)).unbox(Value.self)
        }
        return result
    }
}

final class _PayloadDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    /// The object fields read through a keyed container (nil: none was made, or it listed `allKeys`).
    fileprivate var readKeys: Set<String>?
    /// Whether a field the type does not declare is refused (payloads) or passed over (messages).
    let strict: Bool

    init(value: JSONValue, codingPath: [any CodingKey], strict: Bool = true) {
        self.value = value
        self.codingPath = codingPath
        self.strict = strict
    }

    func child(_ value: JSONValue, at key: any CodingKey) -> _PayloadDecoder {
        _PayloadDecoder(value: value, codingPath: codingPath + [key], strict: strict)
    }

    /// Decodes `T` from this decoder's value, then refuses object fields `T` never asked for.
    func unbox<T: Decodable>(_ type: T.Type) throws -> T {
        if let same = value as? T { return same }
        if let dictionary = T.self as? any _PayloadStringKeyedDictionary.Type {
            guard case .object(let fields) = value else { throw mismatch("must be an object") }
            if let result = try dictionary._payloadDecode(fields, decoder: self) as? T { return result }
        }
        if T.self == Decimal.self {
            // A JSON number keeps its text: no binary floating point on the way.
            guard case .number(let text) = value, let decimal = Decimal(string: text, locale: nil) as? T else {
                throw mismatch("must be a number")
            }
            return decimal
        }
        if T.self == Data.self {
            guard case .string(let text) = value, let data = Data(base64Encoded: text) as? T else {
                throw mismatch("must be base64 text")
            }
            return data
        }
        if T.self == Date.self {
            guard case .string(let text) = value, let date = MessageCoding.parseTimestamp(text) as? T else {
                throw mismatch("must be an RFC 3339 time such as 2026-01-31T12:00:00Z")
            }
            return date
        }
        let result: T
        do {
            result = try T(from: self)
        } catch let error as FieldError {
            throw PayloadDecodingError(codingPath, error.detail)
        } catch let error as DecodingError {
            throw translate(error, for: T.self)
        }
        if strict, let readKeys, !(T.self is any IgnoresUnknownFields.Type), case .object(let fields) = value,
            let unknown = fields.keys.sorted().first(where: { !readKeys.contains($0) })
        {
            throw PayloadDecodingError.unknownField(codingPath + [PayloadKey(stringValue: unknown)])
        }
        return result
    }

    /// Swift's own decoding errors (an enum's unknown raw value) in the client's words.
    private func translate<T>(_ error: DecodingError, for type: T.Type) -> any Error {
        if case .dataCorrupted(let context) = error, context.codingPath.count == codingPath.count,
            let choices = T.self as? any (RawRepresentable & CaseIterable).Type
        {
            return mismatch("must be one of \(Self.options(of: choices))")
        }
        switch error {
        case .dataCorrupted(let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
            return PayloadDecodingError(context.codingPath, "is not valid: \(context.debugDescription)")
        case .keyNotFound(let key, let context):
            return PayloadDecodingError(context.codingPath + [key], "is required")
        @unknown default:
            return PayloadDecodingError(codingPath, "is not valid")
        }
    }

    private static func options<E: RawRepresentable & CaseIterable>(of type: E.Type) -> String {
        E.allCases.map { "\($0.rawValue)" }.joined(separator: ", ")
    }

    func mismatch(_ detail: String) -> PayloadDecodingError {
        PayloadDecodingError(codingPath, value == .null ? "must not be null" : detail)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let fields) = value else { throw mismatch("must be an object") }
        if readKeys == nil { readKeys = [] }
        return KeyedDecodingContainer(PayloadKeyedContainer<Key>(decoder: self, fields: fields))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let items) = value else { throw mismatch("must be an array") }
        return PayloadUnkeyedContainer(decoder: self, items: items)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    fileprivate func markRead(_ field: String) { readKeys?.insert(field) }
    fileprivate func markAllRead() { readKeys = nil }
}

extension _PayloadDecoder: SingleValueDecodingContainer {
    func decodeNil() -> Bool { value == .null }

    func decode(_ type: Bool.Type) throws -> Bool {
        switch value {
        case .bool(let flag): return flag
        case .string("true") where inQuery: return true
        case .string("false") where inQuery: return false
        default: throw mismatch("must be true or false")
        }
    }

    /// Query parameters may come as the text typed in a URL.
    private var inQuery: Bool { codingPath.first?.stringValue == "query" }

    func decode(_ type: String.Type) throws -> String {
        guard case .string(let text) = value else { throw mismatch("must be a string") }
        return text
    }

    func decode(_ type: Double.Type) throws -> Double {
        guard case .number(let text) = value, let number = Double(text) else { throw mismatch("must be a number") }
        return number
    }

    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }

    func decode(_ type: Int.Type) throws -> Int { try integer() }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer() }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer() }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer() }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer() }
    func decode(_ type: UInt.Type) throws -> UInt { try integer() }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer() }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer() }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer() }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer() }

    /// A JSON number without fraction or exponent that fits `T`.
    private func integer<T: FixedWidthInteger>() throws -> T {
        let text: String
        switch value {
        case .number(let number): text = number
        case .string(let string) where inQuery: text = string
        default: throw mismatch("must be an integer")
        }
        guard let number = T(text) else { throw mismatch("must be an integer") }
        return number
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try unbox(T.self) }
}

private struct PayloadKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: _PayloadDecoder
    let fields: [String: JSONValue]
    var codingPath: [any CodingKey] { decoder.codingPath }

    var allKeys: [Key] {
        decoder.markAllRead()
        return fields.keys.compactMap { Key(stringValue: $0) }
    }

    private func name(_ key: Key) -> String {
        let name = FieldNames.snakeCase(key.stringValue)
        decoder.markRead(name)
        return name
    }

    func contains(_ key: Key) -> Bool { fields[name(key)] != nil }

    func decodeNil(forKey key: Key) throws -> Bool { (fields[name(key)] ?? .null) == .null }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let field = name(key)
        guard let value = fields[field] else {
            throw PayloadDecodingError(codingPath + [PayloadKey(stringValue: field)], "is required")
        }
        return try decoder.child(value, at: PayloadKey(stringValue: field)).unbox(T.self)
    }

    /// An optional field sent as `null` reads as absent.
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        let field = name(key)
        guard let value = fields[field], value != .null else { return nil }
        return try decoder.child(value, at: PayloadKey(stringValue: field)).unbox(T.self)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try child(key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { decoder }
    func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }

    private func child(_ key: Key) throws -> _PayloadDecoder {
        let field = name(key)
        guard let value = fields[field] else {
            throw PayloadDecodingError(codingPath + [PayloadKey(stringValue: field)], "is required")
        }
        return decoder.child(value, at: PayloadKey(stringValue: field))
    }
}

private struct PayloadUnkeyedContainer: UnkeyedDecodingContainer {
    let decoder: _PayloadDecoder
    let items: [JSONValue]
    var currentIndex = 0
    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    init(decoder: _PayloadDecoder, items: [JSONValue]) {
        self.decoder = decoder
        self.items = items
    }

    private mutating func next() throws -> _PayloadDecoder {
        let key = PayloadKey(intValue: currentIndex)
        guard !isAtEnd else { throw PayloadDecodingError(codingPath + [key], "is missing") }
        defer { currentIndex += 1 }
        return decoder.child(items[currentIndex], at: key)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().unbox(T.self) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try next().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }

    mutating func superDecoder() throws -> any Decoder { try next() }
}
