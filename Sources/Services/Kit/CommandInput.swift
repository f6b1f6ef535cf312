import MessageBus

/// A command's payload as the gateway sends it, `{"path": {…}, "query": {…}, "body": {…}}`, read
/// with checks that answer 422 naming the field. Workers check again what the gateway's OpenAPI
/// validation already checked: other services reach them without the gateway.
public struct CommandInput: Sendable {
    public let path: [String: JSONValue]
    public let query: [String: JSONValue]
    public let body: [String: JSONValue]

    /// Splits the payload; a missing part reads as empty, a part that is not an object is a 422.
    public init(_ payload: JSONValue) throws(Problem) {
        guard case .object(let parts) = payload else {
            throw Problem.invalid("body", "the command payload must be an object with path, query and body")
        }
        func object(_ name: String) throws(Problem) -> [String: JSONValue] {
            switch parts[name] {
            case nil, .null?: return [:]
            case .object(let o)?: return o
            default: throw Problem.invalid(name, "\(name) must be a JSON object")
            }
        }
        path = try object("path")
        query = try object("query")
        body = try object("body")
    }

    /// The path parameter `name` as an ID of `prefix`; anything else cannot name an object: 404.
    public func pathID(_ name: String = "id", prefix: String, what: String) throws(Problem) -> String {
        try ResourceID.path(path[name]?.stringValue ?? "", prefix: prefix, what: what)
    }

    /// The body's fields, refusing any field not in `allowed` (422 naming it).
    public func body(allowing allowed: Set<String>) throws(Problem) -> FieldReader {
        try FieldReader(body, allowing: allowed)
    }

    /// The query's parameters, refusing any not in `allowed`. Values may be strings (as typed in a URL)
    /// or JSON numbers and booleans (as the gateway coerces declared parameters).
    public func query(allowing allowed: Set<String>) throws(Problem) -> FieldReader {
        try FieldReader(query, allowing: allowed, lenient: true)
    }
}

/// Typed reads of one JSON object's fields. Each failure is a 422 whose `param` is the field name.
public struct FieldReader: Sendable {
    public let fields: [String: JSONValue]
    /// Query strings: numbers and booleans may come as text.
    let lenient: Bool

    public init(_ fields: [String: JSONValue], allowing allowed: Set<String>, lenient: Bool = false) throws(Problem) {
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw Problem.unknownField(unknown)
        }
        self.fields = fields
        self.lenient = lenient
    }

    /// The names that were sent, sorted.
    public var names: [String] { fields.keys.sorted() }

    private func missing(_ name: String) -> Problem { .invalid(name, "\(name) is required") }

    /// A string of `minLength`…`maxLength` characters, with no control characters other than tab and newline.
    public func string(_ name: String, required: Bool = false, minLength: Int = 0, maxLength: Int) throws(Problem)
        -> String?
    {
        guard let value = fields[name] else {
            if required { throw missing(name) }
            return nil
        }
        guard case .string(let text) = value else { throw Problem.invalid(name, "\(name) must be a string") }
        let count = text.count
        if count < minLength {
            throw Problem.invalid(
                name, minLength == 1 ? "\(name) must not be empty" : "\(name) must be at least \(minLength) characters")
        }
        if count > maxLength { throw Problem.invalid(name, "\(name) must be at most \(maxLength) characters") }
        if text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" && $0 != "\n" || $0.value == 0x7F }) {
            throw Problem.invalid(name, "\(name) must not contain control characters")
        }
        return text
    }

    /// An integer in `range` (a JSON number without fraction or exponent; in a query, its text too).
    public func int(_ name: String, in range: ClosedRange<Int>, required: Bool = false) throws(Problem) -> Int? {
        guard let value = fields[name] else {
            if required { throw missing(name) }
            return nil
        }
        let text: String
        switch value {
        case .number(let n): text = n
        case .string(let s) where lenient: text = s
        default: throw Problem.invalid(name, "\(name) must be an integer")
        }
        guard let number = Int(text) else { throw Problem.invalid(name, "\(name) must be an integer") }
        guard range.contains(number) else {
            throw Problem.invalid(name, "\(name) must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return number
    }

    public func bool(_ name: String, required: Bool = false) throws(Problem) -> Bool? {
        switch fields[name] {
        case nil:
            if required { throw missing(name) }
            return nil
        case .bool(let b)?: return b
        case .string("true")? where lenient: return true
        case .string("false")? where lenient: return false
        default: throw Problem.invalid(name, "\(name) must be true or false")
        }
    }

    /// Limits on ``metadata(_:)``: the typed payloads' (``Metadata``).
    public static let metadataMaxKeys = Metadata.maxKeys
    public static let metadataMaxKeyLength = Metadata.maxKeyLength
    public static let metadataMaxValueLength = Metadata.maxValueLength

    /// Key/value strings for the integrator: at most 50 keys of 1–40 characters (no `$` first, no
    /// `.`, which MongoDB paths would read as operators or nesting), values of at most 500 characters.
    public func metadata(_ name: String) throws(Problem) -> [String: String]? {
        guard let value = fields[name] else { return nil }
        guard case .object(let object) = value else {
            throw Problem.invalid(name, "\(name) must be an object of string values")
        }
        if object.count > Self.metadataMaxKeys {
            throw Problem.invalid(name, "\(name) takes at most \(Self.metadataMaxKeys) keys")
        }
        var result: [String: String] = [:]
        for (key, item) in object.sorted(by: { $0.key < $1.key }) {
            let field = "\(name).\(key)"
            guard (1...Self.metadataMaxKeyLength).contains(key.count), !key.hasPrefix("$"), !key.contains("."),
                !key.unicodeScalars.contains(where: { $0.value < 0x20 })
            else {
                throw Problem.invalid(
                    name,
                    "\(name) keys must be 1 to \(Self.metadataMaxKeyLength) characters, not start with $ and not contain a dot")
            }
            guard case .string(let text) = item else { throw Problem.invalid(field, "\(field) must be a string") }
            if text.count > Self.metadataMaxValueLength {
                throw Problem.invalid(field, "\(field) must be at most \(Self.metadataMaxValueLength) characters")
            }
            result[key] = text
        }
        return result
    }
}
