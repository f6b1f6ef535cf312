import MessageBus

// What the responses are made of: a page of a list, an empty answer, a field written as `null`
// when it has no value. Field names are the properties' in snake_case (``ValueEncoder``).

/// One page of a list (DESIGN §5): `{"object": "list", "data": […], "has_more": …}`.
public struct Page<Item: Codable & Sendable>: Codable, Sendable {
    public var object = "list"
    public var data: [Item]
    public var hasMore: Bool

    public init(_ data: [Item], hasMore: Bool) {
        self.data = data
        self.hasMore = hasMore
    }

    /// No items (a principal that may see none).
    public static var empty: Page { Page([], hasMore: false) }
}

/// A whole list in one answer, without pagination (the admin stream and dead-letter reports).
public struct ItemList<Item: Codable & Sendable>: Codable, Sendable {
    public var object = "list"
    public var data: [Item]

    public init(_ data: [Item]) { self.data = data }
}

/// No body: a 204, or a command whose answer nobody reads. Its JSON is `null`.
public struct NoContent: Codable, Sendable, Hashable {
    public init() {}
    public init(from decoder: any Decoder) throws {}
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encodeNil()
    }
}

/// An optional field written as `null` when it has no value (a plain optional is left out): the
/// resources whose contract lists the field always (a subscription's `canceled_at`).
@propertyWrapper
public struct Nullable<Value: Codable & Sendable>: Codable, Sendable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        wrappedValue = container.decodeNil() ? nil : try container.decode(Value.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }
}

extension KeyedDecodingContainer {
    /// A ``Nullable`` field that is missing reads as nil, as a null one does (a stored document
    /// written before the field existed).
    public func decode<V>(_ type: Nullable<V>.Type, forKey key: Key) throws -> Nullable<V> {
        try decodeIfPresent(type, forKey: key) ?? Nullable(wrappedValue: nil)
    }
}
