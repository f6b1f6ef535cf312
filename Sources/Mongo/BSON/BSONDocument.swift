import Foundation

/// An ordered BSON document: keys keep their insertion order, as MongoDB sorts and indexes rely on it.
///
/// Reads like a dictionary literal: `["status": "active", "age": ["$gt": 3]]`.
public struct BSONDocument: Sendable, Hashable {
    /// One key/value pair.
    public struct Field: Sendable, Hashable {
        public var key: String
        public var value: BSONValue

        public init(key: String, value: BSONValue) {
            self.key = key
            self.value = value
        }
    }

    public private(set) var fields: [Field]

    public init() { fields = [] }

    /// Keeps pairs in the given order; a repeated key keeps its first position and last value.
    public init<S: Sequence>(_ pairs: S) where S.Element == (String, BSONValue) {
        fields = []
        for (key, value) in pairs { self[key] = value }
    }

    public var keys: [String] { fields.map(\.key) }
    public var values: [BSONValue] { fields.map(\.value) }
    public var count: Int { fields.count }
    public var isEmpty: Bool { fields.isEmpty }

    /// Reading a missing key gives nil; assigning nil removes the key; assigning a new key appends it.
    public subscript(key: String) -> BSONValue? {
        get { fields.first(where: { $0.key == key })?.value }
        set {
            if let index = fields.firstIndex(where: { $0.key == key }) {
                if let newValue {
                    fields[index].value = newValue
                } else {
                    fields.remove(at: index)
                }
            } else if let newValue {
                fields.append(Field(key: key, value: newValue))
            }
        }
    }

    /// Appends without checking for an existing key (BSON allows repeats; MongoDB mostly does not).
    public mutating func append(key: String, value: BSONValue) {
        fields.append(Field(key: key, value: value))
    }

    public func contains(key: String) -> Bool {
        fields.contains(where: { $0.key == key })
    }

    /// Follows a dotted path through subdocuments and arrays, e.g. `"lines.0.amount"`.
    public func value(atPath path: String) -> BSONValue? {
        var current: BSONValue = .document(self)
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            switch current {
            case .document(let doc):
                guard let next = doc[String(part)] else { return nil }
                current = next
            case .array(let array):
                guard let index = Int(part), array.indices.contains(index) else { return nil }
                current = array[index]
            default:
                return nil
            }
        }
        return current
    }

    /// This document with the keys of `other` set on top of it.
    public func merging(_ other: BSONDocument) -> BSONDocument {
        var result = self
        for element in other.fields { result[element.key] = element.value }
        return result
    }
}

extension BSONDocument: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral pairs: (String, BSONValue)...) {
        self.init(pairs)
    }
}

extension BSONDocument: Sequence {
    public typealias Element = (key: String, value: BSONValue)

    /// Yields `(key, value)` pairs in document order.
    public struct Iterator: IteratorProtocol {
        var base: IndexingIterator<[Field]>

        public mutating func next() -> (key: String, value: BSONValue)? {
            base.next().map { (key: $0.key, value: $0.value) }
        }
    }

    public func makeIterator() -> Iterator { Iterator(base: fields.makeIterator()) }
}

extension BSONDocument: CustomStringConvertible {
    public var description: String {
        "{" + fields.map { "\"\($0.key)\": \($0.value.description)" }.joined(separator: ", ") + "}"
    }
}
