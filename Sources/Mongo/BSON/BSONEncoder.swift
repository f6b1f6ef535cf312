import Foundation

/// Encodes `Encodable` values to ``BSONDocument`` in pure Swift.
///
/// `Date` becomes a BSON datetime (rounded to the millisecond), `Decimal` a decimal128, `Data` binary, `[String: V]` a subdocument
/// (keys sorted), `Int` an int32 when it fits; nil optionals are left out.
public struct BSONEncoder: Sendable {
    public init() {}

    /// Encodes a value whose BSON form is a document (a struct, a class or a `[String: V]`).
    public func encode<T: Encodable>(_ value: T) throws -> BSONDocument {
        let encoded = try encodeValue(value)
        guard case .document(let document) = encoded else {
            throw EncodingError.invalidValue(
                value,
                EncodingError.Context(
                    codingPath: [],
                    debugDescription: "\(T.self) encodes to a BSON \(encoded.typeName), not a document"))
        }
        return document
    }

    /// Encodes any value: a struct gives `.document`, an array `.array`, a `String` `.string`, …
    public func encodeValue<T: Encodable>(_ value: T) throws -> BSONValue {
        try _BSONEncoder.box(value, codingPath: []).resolved
    }
}

// MARK: - Encoding tree

/// Containers are handed out before their contents exist, so the tree is built from references
/// and resolved into values at the end (the approach of Foundation's JSONEncoder).
enum _BSONFuture {
    case value(BSONValue)
    case document(_BSONRefDocument)
    case array(_BSONRefArray)

    var resolved: BSONValue {
        switch self {
        case .value(let v): v
        case .document(let d): .document(d.resolved)
        case .array(let a): .array(a.values.map(\.resolved))
        }
    }
}

final class _BSONRefDocument {
    private(set) var keys: [String] = []
    private(set) var values: [_BSONFuture] = []
    /// Position of each key, so wide documents (large `[String: String]` maps) encode in linear time.
    private var positions: [String: Int] = [:]

    func set(_ key: String, _ value: _BSONFuture) {
        if let index = positions[key] {
            values[index] = value
        } else {
            positions[key] = keys.count
            keys.append(key)
            values.append(value)
        }
    }

    func get(_ key: String) -> _BSONFuture? {
        positions[key].map { values[$0] }
    }

    var resolved: BSONDocument {
        var doc = BSONDocument()
        for (key, value) in zip(keys, values) { doc.append(key: key, value: value.resolved) }
        return doc
    }
}

final class _BSONRefArray {
    private(set) var values: [_BSONFuture] = []

    func append(_ value: _BSONFuture) { values.append(value) }
    func replace(at index: Int, with value: _BSONFuture) { values[index] = value }
    var count: Int { values.count }
}

/// Dictionaries keyed by `String` are written with sorted keys so the same value always gives the same bytes.
protocol _BSONStringKeyedDictionary {
    func _bsonSortedEntries() -> [(String, any Encodable)]
}

extension Dictionary: _BSONStringKeyedDictionary where Key == String, Value: Encodable {
    func _bsonSortedEntries() -> [(String, any Encodable)] {
        self.sorted(by: { $0.key < $1.key }).map { ($0.key, $0.value as any Encodable) }
    }
}

struct _BSONKey: CodingKey {
    var stringValue: String
    var intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }

    init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }

    static let `super` = _BSONKey(stringValue: "super")
}

final class _BSONEncoder: Encoder {
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    var future: _BSONFuture?

    init(codingPath: [any CodingKey]) {
        self.codingPath = codingPath
    }

    /// Values with a native BSON form are stored directly instead of going through their `Codable`.
    static func box<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws -> _BSONFuture {
        if let native = try nativeValue(value, codingPath: codingPath) { return .value(native) }
        if let dictionary = value as? _BSONStringKeyedDictionary {
            let document = _BSONRefDocument()
            for (key, element) in dictionary._bsonSortedEntries() {
                let path = codingPath + [_BSONKey(stringValue: key)]
                document.set(key, try box(element, codingPath: path))
            }
            return .document(document)
        }
        let encoder = _BSONEncoder(codingPath: codingPath)
        try value.encode(to: encoder)
        // A type that encodes nothing at all is an empty document, as JSONEncoder gives `{}`.
        return encoder.future ?? .document(_BSONRefDocument())
    }

    private static func nativeValue(_ value: some Encodable, codingPath: [any CodingKey]) throws -> BSONValue? {
        switch value {
        case let v as BSONValue: return v
        case let v as BSONDocument: return .document(v)
        case let v as BSONObjectID: return .objectID(v)
        case let v as BSONBinary: return .binary(v)
        case let v as BSONTimestamp: return .timestamp(v)
        case let v as BSONRegularExpression: return .regex(v)
        case let v as Date: return .datetime(millisecondsOf: v)
        case let v as Decimal: return .decimal128(v)
        case let v as Data: return .binary(BSONBinary(data: v))
        case let v as URL: return .string(v.absoluteString)
        default: return nil
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let document: _BSONRefDocument
        if case .document(let existing) = future {
            document = existing
        } else {
            document = _BSONRefDocument()
            future = .document(document)
        }
        return KeyedEncodingContainer(_BSONKeyedEncodingContainer<Key>(document: document, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let array: _BSONRefArray
        if case .array(let existing) = future {
            array = existing
        } else {
            array = _BSONRefArray()
            future = .array(array)
        }
        return _BSONUnkeyedEncodingContainer(array: array, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        _BSONSingleValueEncodingContainer(encoder: self)
    }
}

/// An `Int` that does not fit in 64 bits has no BSON form; everything else maps to int32 or int64.
private func bsonInteger<I: BinaryInteger>(_ value: I, codingPath: [any CodingKey]) throws -> BSONValue {
    if let small = Int32(exactly: value) { return .int32(small) }
    if let large = Int64(exactly: value) { return .int64(large) }
    throw EncodingError.invalidValue(
        value,
        EncodingError.Context(codingPath: codingPath, debugDescription: "\(value) does not fit in a BSON int64"))
}

struct _BSONKeyedEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let document: _BSONRefDocument
    let codingPath: [any CodingKey]

    private func field(_ key: Key) -> String { BSONFieldNames.field(for: key, at: codingPath) }
    private func set(_ value: BSONValue, _ key: Key) { document.set(field(key), .value(value)) }

    mutating func encodeNil(forKey key: Key) throws { set(.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { set(.double(value), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { set(.double(Double(value)), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(.int(value), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { set(.int32(Int32(value)), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { set(.int32(Int32(value)), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(.int32(value), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(.int64(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws {
        set(try bsonInteger(value, codingPath: codingPath + [key]), key)
    }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { set(.int32(Int32(value)), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { set(.int32(Int32(value)), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws {
        set(try bsonInteger(value, codingPath: codingPath + [key]), key)
    }
    mutating func encode(_ value: UInt64, forKey key: Key) throws {
        set(try bsonInteger(value, codingPath: codingPath + [key]), key)
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        document.set(field(key), try _BSONEncoder.box(value, codingPath: codingPath + [key]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let nested: _BSONRefDocument
        if case .document(let existing) = document.get(field(key)) {
            nested = existing
        } else {
            nested = _BSONRefDocument()
            document.set(field(key), .document(nested))
        }
        return KeyedEncodingContainer(
            _BSONKeyedEncodingContainer<NestedKey>(document: nested, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested: _BSONRefArray
        if case .array(let existing) = document.get(field(key)) {
            nested = existing
        } else {
            nested = _BSONRefArray()
            document.set(field(key), .array(nested))
        }
        return _BSONUnkeyedEncodingContainer(array: nested, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { superEncoder(forKey: _BSONKey.super) }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        superEncoder(forKey: key as any CodingKey)
    }

    private func superEncoder(forKey key: any CodingKey) -> any Encoder {
        let name = BSONFieldNames.field(for: key, at: codingPath)
        return _BSONReferencingEncoder(codingPath: codingPath + [key]) { [document] future in
            document.set(name, future)
        }
    }
}

struct _BSONUnkeyedEncodingContainer: UnkeyedEncodingContainer {
    let array: _BSONRefArray
    let codingPath: [any CodingKey]
    var count: Int { array.count }

    private var nextKey: _BSONKey { _BSONKey(intValue: array.count) }
    private func append(_ value: BSONValue) { array.append(.value(value)) }

    mutating func encodeNil() throws { append(.null) }
    mutating func encode(_ value: Bool) throws { append(.bool(value)) }
    mutating func encode(_ value: String) throws { append(.string(value)) }
    mutating func encode(_ value: Double) throws { append(.double(value)) }
    mutating func encode(_ value: Float) throws { append(.double(Double(value))) }
    mutating func encode(_ value: Int) throws { append(.int(value)) }
    mutating func encode(_ value: Int8) throws { append(.int32(Int32(value))) }
    mutating func encode(_ value: Int16) throws { append(.int32(Int32(value))) }
    mutating func encode(_ value: Int32) throws { append(.int32(value)) }
    mutating func encode(_ value: Int64) throws { append(.int64(value)) }
    mutating func encode(_ value: UInt) throws { append(try bsonInteger(value, codingPath: codingPath + [nextKey])) }
    mutating func encode(_ value: UInt8) throws { append(.int32(Int32(value))) }
    mutating func encode(_ value: UInt16) throws { append(.int32(Int32(value))) }
    mutating func encode(_ value: UInt32) throws { append(try bsonInteger(value, codingPath: codingPath + [nextKey])) }
    mutating func encode(_ value: UInt64) throws { append(try bsonInteger(value, codingPath: codingPath + [nextKey])) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        array.append(try _BSONEncoder.box(value, codingPath: codingPath + [nextKey]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = _BSONRefDocument()
        let path = codingPath + [nextKey]
        array.append(.document(nested))
        return KeyedEncodingContainer(_BSONKeyedEncodingContainer<NestedKey>(document: nested, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = _BSONRefArray()
        let path = codingPath + [nextKey]
        array.append(.array(nested))
        return _BSONUnkeyedEncodingContainer(array: nested, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let index = array.count
        array.append(.value(.null))
        return _BSONReferencingEncoder(codingPath: codingPath + [_BSONKey(intValue: index)]) { [array] future in
            array.replace(at: index, with: future)
        }
    }
}

struct _BSONSingleValueEncodingContainer: SingleValueEncodingContainer {
    let encoder: _BSONEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    private func store(_ value: BSONValue) { encoder.future = .value(value) }

    mutating func encodeNil() throws { store(.null) }
    mutating func encode(_ value: Bool) throws { store(.bool(value)) }
    mutating func encode(_ value: String) throws { store(.string(value)) }
    mutating func encode(_ value: Double) throws { store(.double(value)) }
    mutating func encode(_ value: Float) throws { store(.double(Double(value))) }
    mutating func encode(_ value: Int) throws { store(.int(value)) }
    mutating func encode(_ value: Int8) throws { store(.int32(Int32(value))) }
    mutating func encode(_ value: Int16) throws { store(.int32(Int32(value))) }
    mutating func encode(_ value: Int32) throws { store(.int32(value)) }
    mutating func encode(_ value: Int64) throws { store(.int64(value)) }
    mutating func encode(_ value: UInt) throws { store(try bsonInteger(value, codingPath: codingPath)) }
    mutating func encode(_ value: UInt8) throws { store(.int32(Int32(value))) }
    mutating func encode(_ value: UInt16) throws { store(.int32(Int32(value))) }
    mutating func encode(_ value: UInt32) throws { store(try bsonInteger(value, codingPath: codingPath)) }
    mutating func encode(_ value: UInt64) throws { store(try bsonInteger(value, codingPath: codingPath)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        encoder.future = try _BSONEncoder.box(value, codingPath: codingPath)
    }
}

/// The encoder `superEncoder()` returns: whatever is encoded into it lands at one slot of its parent.
final class _BSONReferencingEncoder: Encoder {
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    private let inner: _BSONEncoder
    private let write: (_BSONFuture) -> Void

    init(codingPath: [any CodingKey], write: @escaping (_BSONFuture) -> Void) {
        self.codingPath = codingPath
        self.inner = _BSONEncoder(codingPath: codingPath)
        self.write = write
    }

    deinit { write(inner.future ?? .document(_BSONRefDocument())) }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        inner.container(keyedBy: type)
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer { inner.unkeyedContainer() }
    func singleValueContainer() -> any SingleValueEncodingContainer { inner.singleValueContainer() }
}
