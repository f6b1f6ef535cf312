import Contracts
import FieldNames
import Foundation
import MessageBus
import Testing

@testable import Gateway

/// Every route's command answers what schemas/openapi.yaml documents for its success status: the
/// fields of its `Response` type (read with a recording decoder, in snake_case as the coders write
/// them) are the schema's properties, object by object (`$ref`s followed; a list's items; nested
/// objects such as an invoice's lines). A route documented without a body answers `NoContent`.
@Suite struct ResponseContractTests {
    @Test func everyRoutesResponseTypeHasItsDocumentedFields() throws {
        let document = try #require(GatewayHarness.openAPI, "schemas/openapi.yaml loads")
        let schemas = try #require(document.root["components"]?["schemas"])
        var checked = 0
        for route in RouteTable.standard.routes {
            let command = try #require(Commands.all.first { $0.name == route.type }, "\(route.label): \(route.type) is a command")
            let operation = try #require(document.operation(method: route.method.rawValue, path: route.path))
            guard case .object(let responses) = operation["responses"] ?? .null,
                let (status, response) = responses.filter({ $0.key.hasPrefix("2") && $0.key != "202" }).min(by: { $0.key < $1.key })
            else {
                Issue.record("\(route.label) (\(route.type)) documents no success status")
                continue
            }
            let subject = "\(route.type) (\(route.label) \(status))"
            guard let schema = response["content"]?["application/json"]?["schema"] else {
                #expect(command.responseType is NoContent.Type, "\(subject): documented without a body, answers \(command.responseType)")
                continue
            }
            let recorded = try FieldRecorder.fields(of: command.responseType)
            for mismatch in Self.compare(schema, schemas, recorded, at: "") {
                Issue.record("\(subject): \(mismatch)")
            }
            checked += 1
        }
        #expect(checked >= 50, "the routes with a body were compared")
    }

    /// The differences between a schema and the recorded fields below `path`, one line each.
    static func compare(_ schema: JSONValue, _ schemas: JSONValue, _ recorded: [String: Set<String>], at path: String) -> [String] {
        let schema = resolve(schema, schemas)
        if case .array(let parts) = schema["allOf"] ?? .null {
            let merged = parts.reduce(into: [String: JSONValue]()) { merged, part in
                if case .object(let properties) = resolve(part, schemas)["properties"] ?? .null { merged.merge(properties) { $1 } }
            }
            return compare(.object(["properties": .object(merged)]), schemas, recorded, at: path)
        }
        if let items = schema["items"] { return compare(items, schemas, recorded, at: path + "[]") }
        guard case .object(let properties) = schema["properties"] ?? .null else { return [] }
        let documented = Set(properties.keys)
        let typed = recorded[path] ?? []
        let place = path.isEmpty ? "" : " in \(path)"
        var mismatches: [String] = []
        for field in typed.subtracting(documented).sorted() {
            mismatches.append("field '\(field)'\(place) is answered but not documented")
        }
        for field in documented.subtracting(typed).sorted() {
            mismatches.append("field '\(field)'\(place) is documented but not answered")
        }
        for (name, property) in properties.sorted(by: { $0.key < $1.key }) where typed.contains(name) {
            mismatches += compare(property, schemas, recorded, at: path.isEmpty ? name : "\(path).\(name)")
        }
        return mismatches
    }

    /// A schema with its `$ref` followed (`#/components/schemas/<name>`).
    static func resolve(_ schema: JSONValue, _ schemas: JSONValue) -> JSONValue {
        guard let reference = schema["$ref"]?.stringValue, let name = reference.split(separator: "/").last,
            let target = schemas[String(name)]
        else { return schema }
        return resolve(target, schemas)
    }
}

extension BusCommand {
    static var responseType: any Decodable.Type { Response.self }
}

/// A decoder that answers every request with a placeholder and notes the keys asked for, by path
/// (`lines[]`: the members of an item of `lines`): the fields a `Decodable` type declares, as the
/// coders name them. An enumeration gets its first case; an array has one item.
final class FieldRecorder: Decoder {
    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any] = [:]
    let notes: Notes

    final class Notes {
        var fields: [String: Set<String>] = [:]
    }

    init(codingPath: [any CodingKey], notes: Notes) {
        self.codingPath = codingPath
        self.notes = notes
    }

    static func fields(of type: any Decodable.Type) throws -> [String: Set<String>] {
        let notes = Notes()
        _ = try placeholder(type, at: [], notes)
        return notes.fields
    }

    static func placeholder<T: Decodable>(_ type: T.Type, at path: [any CodingKey], _ notes: Notes) throws -> T {
        if let cases = type as? any CaseIterable.Type, let first = firstCase(of: cases) as? T { return first }
        return try T(from: FieldRecorder(codingPath: path, notes: notes))
    }

    static func firstCase<C: CaseIterable>(of type: C.Type) -> Any? { C.allCases.first }

    var path: String {
        codingPath.map { $0.intValue == nil ? FieldNames.snakeCase($0.stringValue) : "[]" }.joined(separator: ".")
            .replacingOccurrences(of: ".[]", with: "[]")
    }

    func note(_ key: any CodingKey) { notes.fields[path, default: []].insert(FieldNames.snakeCase(key.stringValue)) }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Keyed<Key>(decoder: self))
    }

    func unkeyedContainer() -> any UnkeyedDecodingContainer { Unkeyed(decoder: self) }

    func singleValueContainer() -> any SingleValueDecodingContainer { Single(decoder: self) }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let decoder: FieldRecorder
        var codingPath: [any CodingKey] { decoder.codingPath }
        var allKeys: [Key] { [] }

        func contains(_ key: Key) -> Bool {
            decoder.note(key)
            return true
        }

        func decodeNil(forKey key: Key) -> Bool {
            decoder.note(key)
            return false
        }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            decoder.note(key)
            return try FieldRecorder.placeholder(type, at: codingPath + [key], decoder.notes)
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) -> KeyedDecodingContainer<NestedKey> {
            decoder.note(key)
            return FieldRecorder(codingPath: codingPath + [key], notes: decoder.notes).container(keyedBy: type)
        }

        func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedDecodingContainer {
            decoder.note(key)
            return FieldRecorder(codingPath: codingPath + [key], notes: decoder.notes).unkeyedContainer()
        }

        func superDecoder() -> any Decoder { decoder }

        func superDecoder(forKey key: Key) -> any Decoder {
            FieldRecorder(codingPath: codingPath + [key], notes: decoder.notes)
        }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let decoder: FieldRecorder
        var codingPath: [any CodingKey] { decoder.codingPath }
        var count: Int? { 1 }
        var currentIndex = 0
        var isAtEnd: Bool { currentIndex > 0 }

        mutating func decodeNil() -> Bool { false }

        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            currentIndex += 1
            return try FieldRecorder.placeholder(type, at: codingPath + [Index(intValue: 0)], decoder.notes)
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) -> KeyedDecodingContainer<NestedKey> {
            currentIndex += 1
            return FieldRecorder(codingPath: codingPath + [Index(intValue: 0)], notes: decoder.notes).container(keyedBy: type)
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedDecodingContainer {
            currentIndex += 1
            return FieldRecorder(codingPath: codingPath + [Index(intValue: 0)], notes: decoder.notes).unkeyedContainer()
        }

        mutating func superDecoder() -> any Decoder { decoder }
    }

    struct Index: CodingKey {
        var stringValue: String { "\(intValue ?? 0)" }
        var intValue: Int?
        init(intValue: Int) { self.intValue = intValue }
        init?(stringValue: String) { nil }
    }

    /// Placeholders: false (so a `null`-or-value field reads its value), zero, the empty string.
    struct Single: SingleValueDecodingContainer {
        let decoder: FieldRecorder
        var codingPath: [any CodingKey] { decoder.codingPath }

        func decodeNil() -> Bool { false }
        func decode(_ type: Bool.Type) -> Bool { true }
        func decode(_ type: String.Type) -> String { "" }
        func decode(_ type: Double.Type) -> Double { 0 }
        func decode(_ type: Float.Type) -> Float { 0 }
        func decode(_ type: Int.Type) -> Int { 0 }
        func decode(_ type: Int8.Type) -> Int8 { 0 }
        func decode(_ type: Int16.Type) -> Int16 { 0 }
        func decode(_ type: Int32.Type) -> Int32 { 0 }
        func decode(_ type: Int64.Type) -> Int64 { 0 }
        func decode(_ type: UInt.Type) -> UInt { 0 }
        func decode(_ type: UInt8.Type) -> UInt8 { 0 }
        func decode(_ type: UInt16.Type) -> UInt16 { 0 }
        func decode(_ type: UInt32.Type) -> UInt32 { 0 }
        func decode(_ type: UInt64.Type) -> UInt64 { 0 }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try FieldRecorder.placeholder(type, at: codingPath, decoder.notes) }
    }
}
