import FieldNames
import Foundation

/// Encodes an `Encodable` value as a ``JSONValue``, property names written in snake_case
/// (``FieldNames/snakeCase(_:)``), so types need no `CodingKeys`; `[String: V]` keys are data and
/// are written as they are. `Decimal` keeps its exact text, `Date` is RFC 3339 with milliseconds,
/// `nil` optionals are left out.
public enum ValueEncoder {
    public static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        try box(value, codingPath: [])
    }

    static func box<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws -> JSONValue {
        switch value {
        case let json as JSONValue: return json
        case let decimal as Decimal: return .number(decimal.description)
        case let date as Date: return .string(MessageCoding.formatTimestamp(date))
        case let data as Data: return .string(data.base64EncodedString())
        case let dictionary as any _ValueStringKeyedDictionary: return try dictionary._valueEncode(codingPath: codingPath)
        default:
            let encoder = _ValueEncoder(codingPath: codingPath)
            try value.encode(to: encoder)
            return encoder.storage.value
        }
    }
}

/// `[String: V]` written with its keys as they are.
protocol _ValueStringKeyedDictionary {
    func _valueEncode(codingPath: [any CodingKey]) throws -> JSONValue
}

extension Dictionary: _ValueStringKeyedDictionary where Key == String, Value: Encodable {
    func _valueEncode(codingPath: [any CodingKey]) throws -> JSONValue {
        var object: [String: JSONValue] = [:]
        object.reserveCapacity(count)
        for (key, value) in self {
            object[key] = try ValueEncoder.box(value, codingPath: codingPath + [PayloadKey(stringValue: key)])
        }
        return .object(object)
    }
}

/// Where an encoder's value is built: one value, an object or an array, filled in by containers.
final class _ValueStorage {
    enum Kind {
        case empty
        case value(JSONValue)
        case object([String: _ValueStorage])
        case array([_ValueStorage])
    }

    var kind: Kind = .empty

    var value: JSONValue {
        switch kind {
        case .empty: .object([:])
        case .value(let value): value
        case .object(let members): .object(members.mapValues(\.value))
        case .array(let items): .array(items.map(\.value))
        }
    }
}

final class _ValueEncoder: Encoder {
    let codingPath: [any CodingKey]
    let storage: _ValueStorage
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(codingPath: [any CodingKey], storage: _ValueStorage = _ValueStorage()) {
        self.codingPath = codingPath
        self.storage = storage
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = storage.kind {} else { storage.kind = .object([:]) }
        return KeyedEncodingContainer(ValueKeyedContainer<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array = storage.kind {} else { storage.kind = .array([]) }
        return ValueUnkeyedContainer(encoder: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { ValueSingleContainer(encoder: self) }
}

private struct ValueKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: _ValueEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    private func slot(_ key: Key) -> (_ValueStorage, [any CodingKey]) {
        let name = FieldNames.snakeCase(key.stringValue)
        let child = _ValueStorage()
        if case .object(var members) = encoder.storage.kind {
            members[name] = child
            encoder.storage.kind = .object(members)
        }
        return (child, codingPath + [PayloadKey(stringValue: name)])
    }

    func encodeNil(forKey key: Key) throws { slot(key).0.kind = .value(.null) }

    func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        let (child, path) = slot(key)
        child.kind = .value(try ValueEncoder.box(value, codingPath: path))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        let (child, path) = slot(key)
        return _ValueEncoder(codingPath: path, storage: child).container(keyedBy: keyType)
    }

    func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let (child, path) = slot(key)
        return _ValueEncoder(codingPath: path, storage: child).unkeyedContainer()
    }

    func superEncoder() -> any Encoder { encoder }

    func superEncoder(forKey key: Key) -> any Encoder {
        let (child, path) = slot(key)
        return _ValueEncoder(codingPath: path, storage: child)
    }
}

private struct ValueUnkeyedContainer: UnkeyedEncodingContainer {
    let encoder: _ValueEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }
    var count: Int {
        if case .array(let items) = encoder.storage.kind { return items.count }
        return 0
    }

    private func slot() -> (_ValueStorage, [any CodingKey]) {
        let child = _ValueStorage()
        let path = codingPath + [PayloadKey(intValue: count)]
        if case .array(var items) = encoder.storage.kind {
            items.append(child)
            encoder.storage.kind = .array(items)
        }
        return (child, path)
    }

    mutating func encodeNil() throws { slot().0.kind = .value(.null) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let (child, path) = slot()
        child.kind = .value(try ValueEncoder.box(value, codingPath: path))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let (child, path) = slot()
        return _ValueEncoder(codingPath: path, storage: child).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let (child, path) = slot()
        return _ValueEncoder(codingPath: path, storage: child).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let (child, path) = slot()
        return _ValueEncoder(codingPath: path, storage: child)
    }
}

private struct ValueSingleContainer: SingleValueEncodingContainer {
    let encoder: _ValueEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    private func set(_ value: JSONValue) { encoder.storage.kind = .value(value) }

    func encodeNil() throws { set(.null) }
    func encode(_ value: Bool) throws { set(.bool(value)) }
    func encode(_ value: String) throws { set(.string(value)) }
    func encode(_ value: Double) throws { set(.number(Self.text(value))) }
    func encode(_ value: Float) throws { set(.number(Self.text(Double(value)))) }
    func encode(_ value: Int) throws { set(.number(String(value))) }
    func encode(_ value: Int8) throws { set(.number(String(value))) }
    func encode(_ value: Int16) throws { set(.number(String(value))) }
    func encode(_ value: Int32) throws { set(.number(String(value))) }
    func encode(_ value: Int64) throws { set(.number(String(value))) }
    func encode(_ value: UInt) throws { set(.number(String(value))) }
    func encode(_ value: UInt8) throws { set(.number(String(value))) }
    func encode(_ value: UInt16) throws { set(.number(String(value))) }
    func encode(_ value: UInt32) throws { set(.number(String(value))) }
    func encode(_ value: UInt64) throws { set(.number(String(value))) }

    func encode<T: Encodable>(_ value: T) throws { set(try ValueEncoder.box(value, codingPath: codingPath)) }

    /// Whole numbers without a fraction (`3`, not `3.0`), as JSON writers do.
    private static func text(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
