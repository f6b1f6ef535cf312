import FieldNames
import Foundation

/// Decodes `Decodable` values from ``BSONDocument`` in pure Swift.
///
/// A missing key and an explicit null both decode as nil for optionals; numbers convert between
/// int32/int64/double only when exact. Errors are `DecodingError`s whose coding path names the field.
public struct BSONDecoder: Sendable {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from document: BSONDocument) throws -> T {
        try decode(type, fromValue: .document(document))
    }

    public func decode<T: Decodable>(_ type: T.Type, fromValue value: BSONValue) throws -> T {
        try _BSONDecoder(value: value, codingPath: []).unbox(value, as: type)
    }
}

extension DecodingError {
    /// The coding path as a dotted field path, e.g. `lines.2.amount` (empty for the top level).
    public var bsonFieldPath: String {
        let path: [any CodingKey]
        switch self {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            path = context.codingPath
        case .keyNotFound(let key, let context):
            path = context.codingPath + [key]
        @unknown default:
            path = []
        }
        return path.indices.map { index in
            path[index].intValue.map(String.init) ?? BSONFieldNames.field(for: path[index], at: Array(path[..<index]))
        }.joined(separator: ".")
    }

    /// The reason without the path, e.g. "expected a decimal, found string".
    public var bsonReason: String {
        switch self {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            context.debugDescription
        case .keyNotFound(let key, _):
            "required field \"\(FieldNames.snakeCase(key.stringValue))\" is missing"
        @unknown default:
            "\(self)"
        }
    }
}

final class _BSONDecoder: Decoder {
    let value: BSONValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(value: BSONValue, codingPath: [any CodingKey]) {
        self.value = value
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .document(let document) = value else {
            throw _BSONDecoder.mismatch(BSONDocument.self, expected: "a document", found: value, codingPath)
        }
        return KeyedDecodingContainer(_BSONKeyedDecodingContainer<Key>(document: document, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let array) = value else {
            throw _BSONDecoder.mismatch([BSONValue].self, expected: "an array", found: value, codingPath)
        }
        return _BSONUnkeyedDecodingContainer(array: array, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        _BSONSingleValueDecodingContainer(decoder: self)
    }

    static func mismatch(_ type: Any.Type, expected: String, found: BSONValue, _ path: [any CodingKey]) -> DecodingError {
        .typeMismatch(type, .init(codingPath: path, debugDescription: "expected \(expected), found \(found.typeName)"))
    }

    /// Decodes `value` at this decoder's path; BSON-native types and `Date`/`Decimal`/`Data`/`URL` are read directly.
    func unbox<T: Decodable>(_ value: BSONValue, as type: T.Type) throws -> T {
        if let dictionary = type as? any _BSONStringKeyedDictionaryDecodable.Type, case .document(let document) = value {
            guard let typed = try dictionary._bsonDecode(document, decoder: self) as? T else {
                throw DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "cannot read \(type)"))
            }
            return typed
        }
        guard let native = try Self.native(value, as: type, codingPath) else {
            return try T(from: _BSONDecoder(value: value, codingPath: codingPath))
        }
        guard let typed = native as? T else {
            throw DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "cannot read \(type)"))
        }
        return typed
    }

    /// nil when `type` has no BSON-native form and goes through its own `init(from:)`.
    private static func native(_ value: BSONValue, as type: Any.Type, _ path: [any CodingKey]) throws -> Any? {
        switch type {
        case is BSONValue.Type:
            return value
        case is BSONDocument.Type:
            guard case .document(let d) = value else { throw mismatch(type, expected: "a document", found: value, path) }
            return d
        case is BSONObjectID.Type:
            guard case .objectID(let o) = value else { throw mismatch(type, expected: "an objectId", found: value, path) }
            return o
        case is BSONBinary.Type:
            guard case .binary(let b) = value else { throw mismatch(type, expected: "binary data", found: value, path) }
            return b
        case is BSONTimestamp.Type:
            guard case .timestamp(let t) = value else { throw mismatch(type, expected: "a timestamp", found: value, path) }
            return t
        case is BSONRegularExpression.Type:
            guard case .regex(let r) = value else { throw mismatch(type, expected: "a regex", found: value, path) }
            return r
        case is Date.Type:
            guard case .datetime(let d) = value else { throw mismatch(type, expected: "a date", found: value, path) }
            return d
        case is Decimal.Type:
            return try decimal(value, path)
        case is Data.Type:
            guard case .binary(let b) = value else { throw mismatch(type, expected: "binary data", found: value, path) }
            return b.data
        case is URL.Type:
            guard case .string(let s) = value else { throw mismatch(type, expected: "a string", found: value, path) }
            guard let url = URL(string: s) else {
                throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "invalid URL \"\(s)\""))
            }
            return url
        default:
            return nil
        }
    }

    static func decimal(_ value: BSONValue, _ path: [any CodingKey]) throws -> Decimal {
        switch value {
        case .decimal128(let d): return d
        case .int32(let v): return Decimal(v)
        case .int64(let v): return Decimal(v)
        default: throw mismatch(Decimal.self, expected: "a decimal", found: value, path)
        }
    }

    static func integer<I: FixedWidthInteger>(_ value: BSONValue, as type: I.Type, _ path: [any CodingKey]) throws -> I {
        let result: I?
        switch value {
        case .int32(let v): result = I(exactly: v)
        case .int64(let v): result = I(exactly: v)
        case .double(let v): result = I(exactly: v)
        case .decimal128(let d):
            result = I(d.description)  // nil for fractions and out-of-range values
        default:
            throw mismatch(type, expected: "an integer", found: value, path)
        }
        guard let result else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: path, debugDescription: "\(value) does not fit in \(I.self)"))
        }
        return result
    }

    static func double(_ value: BSONValue, _ path: [any CodingKey]) throws -> Double {
        switch value {
        case .double(let v): return v
        case .int32(let v): return Double(v)
        case .int64(let v):
            guard let d = Double(exactly: v) else {
                throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "\(v) is not exact as a Double"))
            }
            return d
        default: throw mismatch(Double.self, expected: "a number", found: value, path)
        }
    }

    static func string(_ value: BSONValue, _ path: [any CodingKey]) throws -> String {
        guard case .string(let s) = value else { throw mismatch(String.self, expected: "a string", found: value, path) }
        return s
    }

    static func bool(_ value: BSONValue, _ path: [any CodingKey]) throws -> Bool {
        guard case .bool(let b) = value else { throw mismatch(Bool.self, expected: "a bool", found: value, path) }
        return b
    }
}

struct _BSONKeyedDecodingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let document: BSONDocument
    let codingPath: [any CodingKey]
    /// Values by key (the first of a repeated key wins, as with `BSONDocument`'s subscript), so
    /// looking up every field of a wide document is linear rather than quadratic.
    private let index: [String: BSONValue]

    init(document: BSONDocument, codingPath: [any CodingKey]) {
        self.document = document
        self.codingPath = codingPath
        self.index = Dictionary(document.fields.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    private func field(_ key: Key) -> String { BSONFieldNames.field(for: key, at: codingPath) }

    var allKeys: [Key] { document.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { index[field(key)] != nil }

    private func value(for key: Key) throws -> BSONValue {
        guard let value = index[field(key)] else {
            throw DecodingError.keyNotFound(
                key, .init(codingPath: codingPath, debugDescription: "required field \"\(field(key))\" is missing"))
        }
        return value
    }

    private func nonNull(for key: Key, _ type: Any.Type) throws -> BSONValue {
        let value = try value(for: key)
        if case .null = value {
            throw DecodingError.valueNotFound(
                type, .init(codingPath: codingPath + [key], debugDescription: "expected \(type), found null"))
        }
        return value
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let value = index[field(key)] else { return true }
        return value.isNull
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try _BSONDecoder.bool(nonNull(for: key, type), codingPath + [key])
    }
    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try _BSONDecoder.string(nonNull(for: key, type), codingPath + [key])
    }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try _BSONDecoder.double(nonNull(for: key, type), codingPath + [key])
    }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        Float(try _BSONDecoder.double(nonNull(for: key, type), codingPath + [key]))
    }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try int(type, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try int(type, key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try int(type, key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try int(type, key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try int(type, key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try int(type, key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try int(type, key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try int(type, key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try int(type, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try int(type, key) }

    private func int<I: FixedWidthInteger>(_ type: I.Type, _ key: Key) throws -> I {
        try _BSONDecoder.integer(nonNull(for: key, type), as: type, codingPath + [key])
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let value = try value(for: key)
        return try _BSONDecoder(value: value, codingPath: codingPath + [key]).unbox(value, as: type)
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try _BSONDecoder(value: value(for: key), codingPath: codingPath + [key]).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try _BSONDecoder(value: value(for: key), codingPath: codingPath + [key]).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        _BSONDecoder(value: index[_BSONKey.super.stringValue] ?? .null, codingPath: codingPath + [_BSONKey.super])
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        _BSONDecoder(value: index[field(key)] ?? .null, codingPath: codingPath + [key])
    }
}

struct _BSONUnkeyedDecodingContainer: UnkeyedDecodingContainer {
    let array: [BSONValue]
    let codingPath: [any CodingKey]
    private(set) var currentIndex = 0

    init(array: [BSONValue], codingPath: [any CodingKey]) {
        self.array = array
        self.codingPath = codingPath
    }

    var count: Int? { array.count }
    var isAtEnd: Bool { currentIndex >= array.count }

    private var currentPath: [any CodingKey] { codingPath + [_BSONKey(intValue: currentIndex)] }

    private mutating func next(_ type: Any.Type) throws -> BSONValue {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                type, .init(codingPath: currentPath, debugDescription: "array has only \(array.count) elements"))
        }
        let value = array[currentIndex]
        currentIndex += 1
        return value
    }

    private mutating func nextNonNull(_ type: Any.Type) throws -> (BSONValue, [any CodingKey]) {
        let path = currentPath
        let value = try next(type)
        if case .null = value {
            throw DecodingError.valueNotFound(type, .init(codingPath: path, debugDescription: "expected \(type), found null"))
        }
        return (value, path)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, array[currentIndex].isNull else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool {
        let (v, p) = try nextNonNull(type)
        return try _BSONDecoder.bool(v, p)
    }
    mutating func decode(_ type: String.Type) throws -> String {
        let (v, p) = try nextNonNull(type)
        return try _BSONDecoder.string(v, p)
    }
    mutating func decode(_ type: Double.Type) throws -> Double {
        let (v, p) = try nextNonNull(type)
        return try _BSONDecoder.double(v, p)
    }
    mutating func decode(_ type: Float.Type) throws -> Float {
        let (v, p) = try nextNonNull(type)
        return Float(try _BSONDecoder.double(v, p))
    }
    mutating func decode(_ type: Int.Type) throws -> Int { try int(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try int(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try int(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try int(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try int(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try int(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try int(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try int(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try int(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try int(type) }

    private mutating func int<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        let (v, p) = try nextNonNull(type)
        return try _BSONDecoder.integer(v, as: type, p)
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let path = currentPath
        let value = try next(type)
        return try _BSONDecoder(value: value, codingPath: path).unbox(value, as: type)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let path = currentPath
        return try _BSONDecoder(value: next(BSONDocument.self), codingPath: path).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let path = currentPath
        return try _BSONDecoder(value: next([BSONValue].self), codingPath: path).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let path = currentPath
        return _BSONDecoder(value: try next(BSONValue.self), codingPath: path)
    }
}

struct _BSONSingleValueDecodingContainer: SingleValueDecodingContainer {
    let decoder: _BSONDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }
    private var value: BSONValue { decoder.value }

    private func nonNull(_ type: Any.Type) throws -> BSONValue {
        if case .null = value {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "expected \(type), found null"))
        }
        return value
    }

    func decodeNil() -> Bool { value.isNull }
    func decode(_ type: Bool.Type) throws -> Bool { try _BSONDecoder.bool(nonNull(type), codingPath) }
    func decode(_ type: String.Type) throws -> String { try _BSONDecoder.string(nonNull(type), codingPath) }
    func decode(_ type: Double.Type) throws -> Double { try _BSONDecoder.double(nonNull(type), codingPath) }
    func decode(_ type: Float.Type) throws -> Float { Float(try _BSONDecoder.double(nonNull(type), codingPath)) }
    func decode(_ type: Int.Type) throws -> Int { try int(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try int(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try int(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try int(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try int(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try int(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try int(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try int(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try int(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try int(type) }

    private func int<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        try _BSONDecoder.integer(nonNull(type), as: type, codingPath)
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try decoder.unbox(value, as: type)
    }
}
