import Foundation
import MessageBus
import Yams

/// schemas/openapi.yaml, loaded once: served as `/openapi.json` and used to validate request
/// bodies (by `components.schemas` name) and query parameters (by the operation's `parameters`).
public struct OpenAPIDocument: Sendable {
    public let root: JSONValue
    /// The document as JSON, ready to serve.
    public let json: Data
    /// Every `pattern` of the document, compiled once when it loads.
    let patterns: [String: NSRegularExpression]

    /// JSON Schema keywords ``SchemaValidator`` does not implement: a request schema using one would be
    /// silently half-checked, so the document is refused when it loads instead.
    static let unsupportedKeywords: Set<String> = [
        "oneOf", "anyOf", "not", "uniqueItems", "if", "then", "else", "patternProperties", "propertyNames",
        "dependentRequired", "dependentSchemas", "contains", "prefixItems", "multipleOf", "exclusiveMinimum",
        "exclusiveMaximum", "minProperties", "maxProperties", "unevaluatedProperties", "unevaluatedItems",
    ]

    public struct LoadError: Error, CustomStringConvertible {
        public var description: String
    }

    public init(yaml: String) throws {
        let loaded: Any?
        do {
            loaded = try Yams.load(yaml: yaml)
        } catch {
            throw LoadError(description: "openapi.yaml is not valid YAML: \(error)")
        }
        guard let loaded, case .object = Self.convert(loaded) else {
            throw LoadError(description: "openapi.yaml must be a mapping at the top")
        }
        let root = Self.convert(loaded)
        self.root = root
        json = try MessageCoding.encode(root)
        var patterns: [String: NSRegularExpression] = [:]
        try Self.forEachRequestSchema(in: root) { schema, at in
            for keyword in Self.unsupportedKeywords where schema[keyword] != nil {
                throw LoadError(description: "openapi.yaml: \(at) uses '\(keyword)', which the gateway's validator does not implement")
            }
            if let pattern = schema["pattern"]?.stringValue, patterns[pattern] == nil {
                do {
                    patterns[pattern] = try NSRegularExpression(pattern: pattern)
                } catch {
                    throw LoadError(description: "openapi.yaml: \(at) has a pattern that does not compile: \(pattern)")
                }
            }
        }
        self.patterns = patterns
    }

    /// Calls `body` with every schema a request is validated against (the request bodies and query
    /// parameters of `paths`, following `$ref`s), each with where it is. Response schemas are
    /// documentation only and may use any keyword.
    static func forEachRequestSchema(
        in root: JSONValue, _ body: (JSONValue, String) throws -> Void
    ) throws {
        var seen: Set<String> = []
        func resolve(_ schema: JSONValue) -> (JSONValue, String?) {
            guard let ref = schema["$ref"]?.stringValue else { return (schema, nil) }
            var node = root
            for part in ref.dropFirst(2).split(separator: "/") { node = node[String(part)] ?? .null }
            return (node, ref)
        }
        func visit(_ raw: JSONValue, at: String) throws {
            let (schema, ref) = resolve(raw)
            if let ref {
                guard seen.insert(ref).inserted else { return }
                return try visit(schema, at: String(ref.dropFirst(2)))
            }
            guard case .object = schema else { return }
            try body(schema, at)
            if case .object(let properties)? = schema["properties"] {
                for (name, property) in properties { try visit(property, at: "\(at)/properties/\(name)") }
            }
            if let items = schema["items"] { try visit(items, at: "\(at)/items") }
            if case .object? = schema["additionalProperties"], let extra = schema["additionalProperties"] {
                try visit(extra, at: "\(at)/additionalProperties")
            }
            if case .array(let parts)? = schema["allOf"] {
                for (index, part) in parts.enumerated() { try visit(part, at: "\(at)/allOf/\(index)") }
            }
        }
        if case .object(let paths)? = root["paths"] {
            for (path, item) in paths.sorted(by: { $0.key < $1.key }) {
                guard case .object(let operations) = item else { continue }
                for (method, operation) in operations.sorted(by: { $0.key < $1.key }) {
                    if case .array(let parameters)? = operation["parameters"] {
                        for parameter in parameters {
                            if let schema = resolve(parameter).0["schema"] { try visit(schema, at: "paths/\(path)/\(method)/parameters") }
                        }
                    }
                    if case .object(let content)? = operation["requestBody"]?["content"] {
                        for (type, media) in content {
                            if let schema = media["schema"] { try visit(schema, at: "paths/\(path)/\(method)/requestBody/\(type)") }
                        }
                    }
                }
            }
        }
    }

    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadError(description: "cannot read the OpenAPI document at \(path) (BILLING_OPENAPI_PATH)")
        }
        try self.init(yaml: String(decoding: data, as: UTF8.self))
    }

    static func convert(_ any: Any) -> JSONValue {
        switch any {
        case let b as Bool: return .bool(b)
        case let i as Int: return .number(String(i))
        case let d as Double: return .number(String(d))
        case let s as String: return .string(s)
        case let a as [Any]: return .array(a.map(convert))
        case let o as [String: Any]: return .object(o.mapValues(convert))
        case let o as [AnyHashable: Any]:
            var result: [String: JSONValue] = [:]
            for (k, v) in o { result["\(k.base)"] = convert(v) }
            return .object(result)
        default: return .null
        }
    }

    /// `components.schemas[name]`.
    public func schema(named name: String) -> JSONValue? { root["components"]?["schemas"]?[name] }

    /// The operation object of `paths[path][method]`.
    public func operation(method: String, path: String) -> JSONValue? { root["paths"]?[path]?[method.lowercased()] }

    /// Checks `value` against the named schema; a 400 naming the field in `param` when it does not match.
    public func validate(_ value: JSONValue, schemaNamed name: String) throws(GatewayError) {
        guard let schema = schema(named: name) else { return }
        try SchemaValidator(document: self).validate(value, against: schema, at: "")
    }

    /// Validates the query of `method path` against its declared query parameters and returns them typed.
    /// Parameters the operation does not declare are refused.
    public func validateQuery(_ query: [(String, String)], method: String, path: String) throws(GatewayError)
        -> [String: JSONValue]
    {
        var declared: [String: JSONValue] = [:]
        var required: Set<String> = []
        if case .array(let parameters)? = operation(method: method, path: path)?["parameters"] {
            for parameter in parameters {
                let resolved = SchemaValidator(document: self).resolve(parameter)
                guard resolved["in"]?.stringValue == "query", let name = resolved["name"]?.stringValue else { continue }
                declared[name] = resolved["schema"] ?? .object([:])
                if resolved["required"] == .bool(true) { required.insert(name) }
            }
        }
        var result: [String: JSONValue] = [:]
        for (name, text) in query {
            guard let schema = declared[name] else {
                throw GatewayError(
                    status: 400, code: "unknown_parameter", title: "Unknown query parameter",
                    detail: "the query parameter '\(name)' is not accepted here", param: name)
            }
            let value = SchemaValidator(document: self).coerce(text, to: schema)
            try SchemaValidator(document: self).validate(value, against: schema, at: name)
            result[name] = value
        }
        for name in required where result[name] == nil {
            throw GatewayError(
                status: 400, code: "missing_parameter", title: "Missing query parameter",
                detail: "the query parameter '\(name)' is required", param: name)
        }
        return result
    }
}

/// The JSON Schema subset schemas/openapi.yaml uses: `$ref`, `type` (or a list of types), `properties`,
/// `required`, `additionalProperties`, `enum`, `const`, `minLength`/`maxLength`, `pattern`, `format`
/// (email, date-time, decimal), `minimum`/`maximum`, `items`, `minItems`/`maxItems`, `allOf`.
struct SchemaValidator {
    let document: OpenAPIDocument

    func resolve(_ schema: JSONValue) -> JSONValue {
        var current = schema
        var hops = 0
        while let ref = current["$ref"]?.stringValue, hops < 16 {
            hops += 1
            var node = document.root
            for part in ref.dropFirst(2).split(separator: "/") { node = node[String(part)] ?? .null }
            current = node
        }
        return current
    }

    func coerce(_ text: String, to schema: JSONValue) -> JSONValue {
        let types = Self.types(of: resolve(schema))
        if types.contains("integer") || types.contains("number"), Decimal(string: text) != nil,
            text.allSatisfy({ $0.isNumber || $0 == "-" || $0 == "." })
        {
            return .number(text)
        }
        if types.contains("boolean"), text == "true" || text == "false" { return .bool(text == "true") }
        return .string(text)
    }

    static func types(of schema: JSONValue) -> [String] {
        switch schema["type"] {
        case .string(let t)?: return [t]
        case .array(let list)?: return list.compactMap(\.stringValue)
        default: return []
        }
    }

    private func fail(_ at: String, _ detail: String) -> GatewayError {
        let field = at.isEmpty ? "body" : at
        return GatewayError(
            status: 400, code: "invalid_field", title: "Invalid field", detail: "\(field): \(detail)",
            param: at.isEmpty ? nil : at)
    }

    private static func typeName(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    private static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object),
            ("number", .number):
            return true
        case ("integer", .number(let n)): return Decimal(string: n) != nil && !n.contains(".") && !n.lowercased().contains("e")
        default: return false
        }
    }

    func validate(_ value: JSONValue, against raw: JSONValue, at path: String) throws(GatewayError) {
        let schema = resolve(raw)
        if case .array(let parts)? = schema["allOf"] {
            for part in parts { try validate(value, against: part, at: path) }
        }
        let types = Self.types(of: schema)
        if !types.isEmpty, !types.contains(where: { Self.matches(value, type: $0) }) {
            throw fail(path, "expected \(types.joined(separator: " or ")), got \(Self.typeName(value))")
        }
        if case .array(let options)? = schema["enum"], !options.contains(value) {
            let shown = options.compactMap { $0.stringValue ?? { if case .number(let n) = $0 { n } else { nil } }($0) }
            throw fail(path, "must be one of \(shown.joined(separator: ", "))")
        }
        if let constant = schema["const"], constant != value { throw fail(path, "has an unexpected value") }
        switch value {
        case .string(let s):
            if let min = Self.int(schema["minLength"]), s.count < min { throw fail(path, "must be at least \(min) characters") }
            if let max = Self.int(schema["maxLength"]), s.count > max { throw fail(path, "must be at most \(max) characters") }
            if let pattern = schema["pattern"]?.stringValue {
                let range = NSRange(s.startIndex..., in: s)
                let compiled = document.patterns[pattern] ?? (try? NSRegularExpression(pattern: pattern))
                if compiled?.firstMatch(in: s, range: range) == nil { throw fail(path, "does not match \(pattern)") }
            }
            switch schema["format"]?.stringValue {
            case "email"?:
                let parts = s.split(separator: "@")
                if parts.count != 2 || !parts[1].contains(".") || s.contains(" ") { throw fail(path, "is not an email address") }
            case "date-time"?:
                if MessageCoding.parseTimestamp(s) == nil { throw fail(path, "is not an RFC 3339 time") }
            case "decimal"?:
                if Decimal(string: s) == nil || s.contains(where: { !($0.isNumber || $0 == "." || $0 == "-") }) {
                    throw fail(path, "is not a decimal string such as \"19.99\"")
                }
            default: break
            }
        case .number(let n):
            let number = Decimal(string: n) ?? 0
            if let min = Self.decimal(schema["minimum"]), number < min { throw fail(path, "must be ≥ \(min)") }
            if let max = Self.decimal(schema["maximum"]), number > max { throw fail(path, "must be ≤ \(max)") }
        case .array(let items):
            if let min = Self.int(schema["minItems"]), items.count < min { throw fail(path, "needs at least \(min) items") }
            if let max = Self.int(schema["maxItems"]), items.count > max { throw fail(path, "takes at most \(max) items") }
            if let itemSchema = schema["items"] {
                for (index, item) in items.enumerated() { try validate(item, against: itemSchema, at: "\(path)[\(index)]") }
            }
        case .object(let object):
            let properties: [String: JSONValue]
            if case .object(let p)? = schema["properties"] { properties = p } else { properties = [:] }
            if case .array(let required)? = schema["required"] {
                for name in required.compactMap(\.stringValue) where object[name] == nil {
                    throw fail(Self.join(path, name), "is required")
                }
            }
            for (name, member) in object.sorted(by: { $0.key < $1.key }) {
                if let propertySchema = properties[name] {
                    try validate(member, against: propertySchema, at: Self.join(path, name))
                } else if schema["additionalProperties"] == .bool(false) {
                    throw fail(Self.join(path, name), "is not a known field")
                } else if let extra = schema["additionalProperties"], case .object = extra {
                    try validate(member, against: extra, at: Self.join(path, name))
                }
            }
        default: break
        }
    }

    private static func join(_ path: String, _ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    private static func int(_ value: JSONValue?) -> Int? {
        if case .number(let n)? = value { return Int(n) ?? (Double(n).map { Int($0) }) }
        return nil
    }

    private static func decimal(_ value: JSONValue?) -> Decimal? {
        if case .number(let n)? = value { return Decimal(string: n) }
        return nil
    }
}
