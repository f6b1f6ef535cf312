import Foundation

// Field types for command payloads: each checks its own rule while decoding, so a payload type is a
// list of typed properties and ``PayloadDecoder`` reports the first broken rule as a 422 naming the
// field. The limits are the schemas' (schemas/commands), written as generic arguments.

/// A command payload as the gateway sends it: `{"path": {…}, "query": {…}, "body": {…}}`. A missing
/// part reads as an empty object (and a part the type declares with required fields then says so).
public struct Request<Path: Decodable & Sendable, Query: Decodable & Sendable, Body: Decodable & Sendable>: Decodable,
    Sendable
{
    public let path: Path
    public let query: Query
    public let body: Body

    public init(from decoder: any Decoder) throws {
        let parts = try decoder.container(keyedBy: PayloadKey.self)
        path = try parts.part("path")
        query = try parts.part("query")
        body = try parts.part("body")
    }
}

/// The payload of a route of the gateway's `auth` rate class (sign-up, sign-in, tokens): a body, no
/// path or query fields, and `client`, the caller as the gateway saw it (for the per-IP throttle).
public struct CallerRequest<Body: Decodable & Sendable>: Decodable, Sendable {
    public let path: NoFields
    public let query: NoFields
    public let body: Body
    public let client: Caller

    public init(from decoder: any Decoder) throws {
        let parts = try decoder.container(keyedBy: PayloadKey.self)
        path = try parts.part("path")
        query = try parts.part("query")
        body = try parts.part("body")
        client = try parts.part("client")
    }
}

/// Who called, as the gateway saw it: the client's IP (behind trusted proxies, the forwarded one).
/// Absent when the command did not come through the gateway.
public struct Caller: Decodable, Sendable, Hashable {
    public let ip: String?
}

extension KeyedDecodingContainer<PayloadKey> {
    /// The part `name` of a request (`path`, `query`, `body`): a missing or null one reads as an empty object.
    fileprivate func part<T: Decodable>(_ name: String) throws -> T {
        let key = PayloadKey(stringValue: name)
        if let value = try decodeIfPresent(T.self, forKey: key) { return value }
        return try _PayloadDecoder(value: .object([:]), codingPath: [key]).unbox(T.self)
    }
}

/// A part with no fields: any field sent is refused.
public struct NoFields: Decodable, Sendable, Hashable {
    public init() {}
    public init(from decoder: any Decoder) throws {
        _ = try decoder.container(keyedBy: PayloadKey.self)
    }
}

/// The `{id}` of a route such as `/v1/plans/{id}`. Its shape is the handler's check (an ID that
/// cannot name an object is a 404, not a 422).
public struct IDPath: Decodable, Sendable, Hashable {
    public let id: String
}

/// The query of a list command: a page (`limit`, `starting_after`) and the command's own filters,
/// side by side in one query string.
public struct Listing<Filters: Decodable & Sendable>: Decodable, Sendable, PayloadGroup {
    public let page: PageQuery
    public let filters: Filters

    public init(from decoder: any Decoder) throws {
        page = try PageQuery(from: decoder)
        filters = try Filters(from: decoder)
    }
}

/// Cursor pagination (DESIGN §5): `limit` 1–100 (default 10) and `starting_after`, an object ID.
public struct PageQuery: Decodable, Sendable, Hashable {
    public let limit: Bounded<1, 100>?
    public let startingAfter: Text<1, 80>?
}

/// A payload type whose properties are groups of fields read from the same object (``Listing``).
public protocol PayloadGroup {}

/// A payload part that ignores fields it does not declare, where its schema says
/// `additionalProperties: true` (an OAuth form's extension parameters, RFC 6749 §3.2).
public protocol IgnoresUnknownFields {}

/// A string of `minLength`…`maxLength` characters without control characters (tab and newline allowed).
public struct Text<let minLength: Int, let maxLength: Int>: Decodable, Sendable, Hashable {
    public let value: String

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        let count = text.count
        if count < minLength {
            throw FieldError(minLength == 1 ? "must not be empty" : "must be at least \(minLength) characters")
        }
        if count > maxLength { throw FieldError("must be at most \(maxLength) characters") }
        if text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" && $0 != "\n" || $0.value == 0x7F }) {
            throw FieldError("must not contain control characters")
        }
        value = text
    }
}

/// An integer in `lowerBound`…`upperBound` (in a query, its text too).
public struct Bounded<let lowerBound: Int, let upperBound: Int>: Decodable, Sendable, Hashable {
    public let value: Int

    public init(from decoder: any Decoder) throws {
        let number = try decoder.singleValueContainer().decode(Int.self)
        guard number >= lowerBound, number <= upperBound else {
            throw FieldError("must be between \(lowerBound) and \(upperBound)")
        }
        value = number
    }
}

/// A decimal amount as text (`"19.99"`): a JSON string, never a JSON number, which some clients would
/// have rounded through binary floating point on the way. Its form and precision are the handler's
/// check (with the currency's minor units). Responses write money the same way (`Money.formatted`).
public struct DecimalText: Codable, Sendable, Hashable {
    public let text: String

    public init(_ text: String) { self.text = text }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }

    public init(from decoder: any Decoder) throws {
        guard let text = try? decoder.singleValueContainer().decode(String.self) else {
            throw FieldError("must be a decimal string such as \"19.99\"")
        }
        self.text = text
    }
}

/// At most `maxItems` elements.
public struct Items<Element: Decodable & Sendable & Hashable, let maxItems: Int>: Decodable, Sendable, Hashable {
    public let values: [Element]

    public init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        if let count = container.count, count > maxItems { throw FieldError("takes at most \(maxItems) items") }
        var values: [Element] = []
        while !container.isAtEnd { values.append(try container.decode(Element.self)) }
        self.values = values
    }
}

/// Key/value strings for the integrator (Stripe's limits, give or take): at most 50 keys of 1–40
/// characters (no `$` first, no `.`, which MongoDB paths would read as operators or nesting), values
/// of at most 500 characters. In an update, an empty value removes its key.
public struct Metadata: Decodable, Sendable, Hashable {
    public static let maxKeys = 50
    public static let maxKeyLength = 40
    public static let maxValueLength = 500

    public let values: [String: String]

    public init(from decoder: any Decoder) throws {
        let fields = try decoder.singleValueContainer().decode([String: JSONValue].self)
        if fields.count > Self.maxKeys { throw FieldError("takes at most \(Self.maxKeys) keys") }
        var values: [String: String] = [:]
        for (key, item) in fields.sorted(by: { $0.key < $1.key }) {
            guard (1...Self.maxKeyLength).contains(key.count), !key.hasPrefix("$"), !key.contains("."),
                !key.unicodeScalars.contains(where: { $0.value < 0x20 })
            else {
                throw FieldError("keys must be 1 to \(Self.maxKeyLength) characters, not start with $ and not contain a dot")
            }
            let path = decoder.codingPath + [PayloadKey(stringValue: key)]
            guard case .string(let text) = item else { throw PayloadDecodingError(path, "must be a string") }
            if text.count > Self.maxValueLength {
                throw PayloadDecodingError(path, "must be at most \(Self.maxValueLength) characters")
            }
            values[key] = text
        }
        self.values = values
    }

    /// `current` with these changes applied, as an update merges metadata (Stripe's way): key by
    /// key, an empty value removing its key. A 422 on `metadata` when more than ``maxKeys`` would remain.
    public func merged(into current: [String: String]) throws(Problem) -> [String: String] {
        var merged = current
        for (key, value) in values { merged[key] = value.isEmpty ? nil : value }
        if merged.count > Self.maxKeys {
            throw Problem.invalid("metadata", "metadata takes at most \(Self.maxKeys) keys")
        }
        return merged
    }
}
