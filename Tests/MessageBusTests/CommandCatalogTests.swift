import Contracts
import FieldNames
import Foundation
import MessageBus
import Testing

/// The typed catalogue of commands and events agrees with schemas/commands and schemas/events,
/// which stay the contract: a type without a schema, or a schema without a type, fails here.
@Suite struct CommandCatalogTests {
    static let schemas = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("schemas")

    static func titles(_ folder: String) throws -> [String: URL] {
        let directory = schemas.appendingPathComponent(folder)
        var titles: [String: URL] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where file.hasSuffix(".json") {
            let url = directory.appendingPathComponent(file)
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
            let title = try #require(object?["title"] as? String, "\(file) has a title")
            #expect(file == "\(title).json", "\(file) is named after its title")
            titles[title] = url
        }
        return titles
    }

    @Test func everyCommandTypeHasItsSchemaAndEverySchemaItsType() throws {
        let documented = try Self.titles("commands")
        let typed = Commands.all.map { $0.name }
        #expect(Set(typed).count == typed.count, "no command name twice")
        #expect(Set(typed) == Set(documented.keys), "typed only: \(Set(typed).subtracting(documented.keys)); schema only: \(Set(documented.keys).subtracting(typed))")
        let services: Set<String> = ["auth", "customer", "plan", "subscription", "invoice", "webhook", "notify"]
        for command in Commands.all {
            #expect(services.contains(command.service), "\(command.name) runs on a known service")
        }
    }

    @Test func everyEventTypeHasItsSchemaAndEverySchemaItsType() throws {
        let documented = try Self.titles("events")
        let typed = EventType.all.map(\.name)
        #expect(Set(typed).count == typed.count, "no event name twice")
        #expect(Set(typed) == Set(documented.keys), "typed only: \(Set(typed).subtracting(documented.keys)); schema only: \(Set(documented.keys).subtracting(typed))")
        for event in EventType.all {
            #expect(event.name.wholeMatch(of: /[a-z_]+\.[a-z_]+/) != nil, "\(event) is <resource>.<past-tense>")
        }
    }

    /// The fields a schema marks `writeOnly` (a password, a token) are the command type's secret
    /// fields, which the runtime deletes from the stream once processed and redacts in dead letters.
    @Test func secretFieldsAreTheSchemasWriteOnlyFields() throws {
        let documented = try Self.titles("commands")
        for command in Commands.all {
            let url = try #require(documented[command.name])
            let schema = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            let properties = schema["properties"] as? [String: Any] ?? [:]
            let body = (properties["body"] as? [String: Any])?["properties"] as? [String: Any] ?? properties
            let writeOnly = body.filter { ($0.value as? [String: Any])?["writeOnly"] as? Bool == true }.map(\.key)
            #expect(Set(writeOnly) == Set(command.secretFields), "\(command.name): schema \(writeOnly.sorted()), type \(command.secretFields)")
        }
        #expect(Commands.secretFields["auth.signup"] == ["password"])
    }

    /// A typed command's payload declares exactly its schema's fields, part by part (path, query,
    /// body), and requires exactly the fields the schema requires. The payload is decoded from a
    /// sample the schema's own rules make (its required fields only) and read back with `Mirror`.
    @Test func typedPayloadsDeclareTheirSchemasFields() throws {
        let documented = try Self.titles("commands")
        var typed = 0
        for command in Commands.all where command.payloadType != JSONValue.self {
            typed += 1
            let url = try #require(documented[command.name])
            let schema = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            let parts = try #require(schema["properties"] as? [String: Any])
            var sample: [String: JSONValue] = [:]
            for (part, value) in parts {
                sample[part] = Self.sample(of: value as? [String: Any] ?? [:], requiredOnly: true)
            }
            let payload = try command.decodePayload(.object(sample))
            guard Set(parts.keys).isSubset(of: Self.requestParts) else {
                // A payload of its own shape (an internal command's): the schema's top level is its fields.
                let (fields, mandatory) = Self.fields(of: payload)
                let required = Set(schema["required"] as? [String] ?? [])
                #expect(fields == Set(parts.keys), "\(command.name): type \(fields.sorted()), schema \(parts.keys.sorted())")
                #expect(mandatory == required, "\(command.name) required: type \(mandatory.sorted()), schema \(required.sorted())")
                continue
            }
            for child in Mirror(reflecting: payload).children {
                let part = try #require(child.label)
                let partSchema = parts[part] as? [String: Any] ?? [:]
                let properties = Set((partSchema["properties"] as? [String: Any] ?? [:]).keys)
                let required = Set(partSchema["required"] as? [String] ?? [])
                let (fields, mandatory) = Self.fields(of: child.value)
                #expect(fields == properties, "\(command.name) \(part): type \(fields.sorted()), schema \(properties.sorted())")
                #expect(mandatory == required, "\(command.name) \(part) required: type \(mandatory.sorted()), schema \(required.sorted())")
            }
        }
        #expect(typed >= 40, "the plan, customer, webhook (with the admin stream commands) and auth commands at least are typed")
    }

    /// The parts of a request as the gateway sends it (`client` on sign-in routes).
    static let requestParts: Set<String> = ["path", "query", "body", "client"]

    /// The field names (snake_case) a payload part declares, and which of them are not optional.
    static func fields(of part: Any) -> (names: Set<String>, required: Set<String>) {
        var names = Set<String>()
        var required = Set<String>()
        for child in Mirror(reflecting: part).children {
            guard let label = child.label else { continue }
            if part is any PayloadGroup {
                // A group (Listing) reads its members' fields from the same object.
                let inner = fields(of: child.value)
                names.formUnion(inner.names)
                required.formUnion(inner.required)
                continue
            }
            // A raw identifier (`created[gte]`) is labelled with its backticks.
            let name = FieldNames.snakeCase(label.trimmingCharacters(in: ["`"]))
            names.insert(name)
            if Mirror(reflecting: child.value).displayStyle != .optional { required.insert(name) }
        }
        return (names, required)
    }

    /// A value the schema accepts (objects with their required properties only).
    static func sample(of schema: [String: Any], requiredOnly: Bool) -> JSONValue {
        // A rule the schema cannot state (an event type's form) comes with an example that keeps it.
        if let examples = schema["examples"] as? [Any], let first = examples.first, let example = json(first) { return example }
        if let choices = schema["enum"] as? [String], let first = choices.first { return .string(first) }
        let type = (schema["type"] as? String) ?? ((schema["type"] as? [String])?.first ?? "object")
        switch type {
        case "object":
            let properties = schema["properties"] as? [String: Any] ?? [:]
            let required = schema["required"] as? [String] ?? []
            var object: [String: JSONValue] = [:]
            for name in required { object[name] = sample(of: properties[name] as? [String: Any] ?? [:], requiredOnly: true) }
            return .object(object)
        case "integer", "number": return .number("\(schema["minimum"] as? Int ?? 1)")
        case "boolean": return .bool(true)
        case "array":
            let item = sample(of: schema["items"] as? [String: Any] ?? [:], requiredOnly: true)
            return .array(Array(repeating: item, count: schema["minItems"] as? Int ?? 0))
        default:
            let pattern = schema["pattern"] as? String ?? ""
            if pattern == "^[A-Z]{3}$" { return .string("USD") }
            if pattern.hasPrefix("^[0-9]") { return .string("1") }
            if let prefix = pattern.firstMatch(of: /^\^([a-z]+_)/)?.1 { return .string("\(prefix)1") }
            if schema["format"] as? String == "email" { return .string("ada@example.com") }
            if schema["format"] as? String == "date-time" { return .string("2026-01-31T12:00:00Z") }
            return .string(String(repeating: "x", count: max(1, schema["minLength"] as? Int ?? 1)))
        }
    }
}

extension CommandCatalogTests {
    /// A value JSONSerialization read (strings, numbers, arrays and objects of them), as a JSONValue.
    static func json(_ value: Any) -> JSONValue? {
        switch value {
        case let text as String: return .string(text)
        case let items as [Any]: return .array(items.compactMap(json))
        case let object as [String: Any]: return .object(object.compactMapValues(json))
        case let number as NSNumber: return .number(number.stringValue)
        default: return nil
        }
    }
}

extension BusCommand {
    static var payloadType: Any.Type { Payload.self }
    static func decodePayload(_ value: JSONValue) throws -> Any { try PayloadDecoder.decode(Payload.self, from: value) }
}
