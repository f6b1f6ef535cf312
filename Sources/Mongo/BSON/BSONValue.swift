import Foundation
import Synchronization

/// One BSON value. Money is `.decimal128(Decimal)`, instants are `.datetime(Date)` (millisecond precision).
public enum BSONValue: Sendable, Hashable {
    case double(Double)
    case string(String)
    case document(BSONDocument)
    case array([BSONValue])
    case binary(BSONBinary)
    case objectID(BSONObjectID)
    case bool(Bool)
    /// Milliseconds since the epoch; sub-millisecond parts are rounded away when written.
    case datetime(Date)
    case null
    case regex(BSONRegularExpression)
    case int32(Int32)
    case timestamp(BSONTimestamp)
    case int64(Int64)
    /// IEEE 754-2008 decimal128, converted to and from `Decimal` exactly (never through `Double`).
    case decimal128(Decimal)
    case minKey
    case maxKey
}

extension BSONValue {
    /// The name BSON and `$type`/`bsonType` use for this value, e.g. `"decimal"`, `"date"`.
    public var typeName: String {
        switch self {
        case .double: "double"
        case .string: "string"
        case .document: "object"
        case .array: "array"
        case .binary: "binData"
        case .objectID: "objectId"
        case .bool: "bool"
        case .datetime: "date"
        case .null: "null"
        case .regex: "regex"
        case .int32: "int"
        case .timestamp: "timestamp"
        case .int64: "long"
        case .decimal128: "decimal"
        case .minKey: "minKey"
        case .maxKey: "maxKey"
        }
    }

    /// The integer value if this is an `int32`, `int64`, or a `double` holding a whole number.
    public var intValue: Int? {
        switch self {
        case .int32(let v): Int(v)
        case .int64(let v): Int(exactly: v)
        case .double(let v): Int(exactly: v)
        default: nil
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var documentValue: BSONDocument? {
        if case .document(let d) = self { return d }
        return nil
    }

    public var arrayValue: [BSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var dateValue: Date? {
        if case .datetime(let d) = self { return d }
        return nil
    }

    public var decimalValue: Decimal? {
        if case .decimal128(let d) = self { return d }
        return nil
    }

    public var objectIDValue: BSONObjectID? {
        if case .objectID(let o) = self { return o }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// BSON datetimes count milliseconds: rounded to the nearest one, so a date read back writes the same value.
    public static func milliseconds(since1970 date: Date) -> Int64 {
        let ms = (date.timeIntervalSince1970 * 1000).rounded()
        return Int64(exactly: ms) ?? (ms < 0 ? Int64.min : Int64.max)
    }

    public static func date(milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    /// A datetime value holding exactly what BSON will store (the date rounded to the millisecond).
    public static func datetime(millisecondsOf date: Date) -> BSONValue {
        .datetime(BSONValue.date(milliseconds: milliseconds(since1970: date)))
    }

    /// `Int` is stored as `int32` when it fits (so `bsonType: "int"` validators accept it), else `int64`.
    public static func int(_ value: Int) -> BSONValue {
        if let small = Int32(exactly: value) { return .int32(small) }
        return .int64(Int64(value))
    }
}

extension BSONValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension BSONValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) { self = .int(value) }
}

extension BSONValue: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension BSONValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension BSONValue: ExpressibleByNilLiteral {
    public init(nilLiteral: ()) { self = .null }
}

extension BSONValue: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: BSONValue...) { self = .array(elements) }
}

extension BSONValue: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, BSONValue)...) {
        self = .document(BSONDocument(elements))
    }
}

extension BSONValue: CustomStringConvertible {
    /// Relaxed extended-JSON-like text, for logs and error messages.
    public var description: String {
        switch self {
        case .double(let v): return "\(v)"
        case .string(let s): return "\"\(s)\""
        case .document(let d): return d.description
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .binary(let b): return "Binary(\(b.subtype), \(b.data.count) bytes)"
        case .objectID(let o): return "ObjectId(\"\(o.hex)\")"
        case .bool(let b): return "\(b)"
        case .datetime(let d): return "ISODate(\"\(BSONValue.iso8601(d))\")"
        case .null: return "null"
        case .regex(let r): return "/\(r.pattern)/\(r.options)"
        case .int32(let v): return "\(v)"
        case .timestamp(let t): return "Timestamp(\(t.seconds), \(t.increment))"
        case .int64(let v): return "NumberLong(\(v))"
        case .decimal128(let d): return "NumberDecimal(\"\(d)\")"
        case .minKey: return "MinKey"
        case .maxKey: return "MaxKey"
        }
    }

    static func iso8601(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

/// A 12-byte MongoDB ObjectId.
public struct BSONObjectID: Sendable, Hashable, CustomStringConvertible {
    /// Exactly 12 bytes.
    public let bytes: [UInt8]

    /// A new ObjectId: 4-byte big-endian seconds, 5 random bytes for this process, 3-byte counter.
    public init() {
        let seconds = UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970))
        let counter = BSONObjectID.nextCounter()
        var bytes = [UInt8](repeating: 0, count: 12)
        bytes[0] = UInt8(truncatingIfNeeded: seconds >> 24)
        bytes[1] = UInt8(truncatingIfNeeded: seconds >> 16)
        bytes[2] = UInt8(truncatingIfNeeded: seconds >> 8)
        bytes[3] = UInt8(truncatingIfNeeded: seconds)
        for i in 0..<5 { bytes[4 + i] = BSONObjectID.processUnique[i] }
        bytes[9] = UInt8(truncatingIfNeeded: counter >> 16)
        bytes[10] = UInt8(truncatingIfNeeded: counter >> 8)
        bytes[11] = UInt8(truncatingIfNeeded: counter)
        self.bytes = bytes
    }

    /// Returns nil unless `bytes` has exactly 12 elements.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 12 else { return nil }
        self.bytes = bytes
    }

    /// Parses 24 hex digits; nil otherwise.
    public init?(hex: String) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 24 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(12)
        var i = 0
        while i < 24 {
            guard let hi = BSONObjectID.nibble(utf8[i]), let lo = BSONObjectID.nibble(utf8[i + 1]) else { return nil }
            bytes.append(hi << 4 | lo)
            i += 2
        }
        self.bytes = bytes
    }

    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(24)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static let processUnique: [UInt8] = (0..<5).map { _ in UInt8.random(in: 0...255) }
    private static let counter = Atomic<UInt32>(UInt32.random(in: 0..<0xFF_FFFF))

    private static func nextCounter() -> UInt32 {
        counter.wrappingAdd(1, ordering: .relaxed).newValue & 0xFF_FFFF
    }
}

/// BSON binary data with its subtype (0 generic, 4 UUID, …).
public struct BSONBinary: Sendable, Hashable {
    public var subtype: UInt8
    public var data: Data

    public init(data: Data, subtype: UInt8 = 0) {
        self.data = data
        self.subtype = subtype
    }
}

/// A BSON timestamp (internal MongoDB replication time, not a date).
public struct BSONTimestamp: Sendable, Hashable, Codable {
    public var seconds: UInt32
    public var increment: UInt32

    public init(seconds: UInt32, increment: UInt32) {
        self.seconds = seconds
        self.increment = increment
    }
}

/// A BSON regular expression (`pattern`, `options` such as `"i"`).
public struct BSONRegularExpression: Sendable, Hashable, Codable {
    public var pattern: String
    public var options: String

    public init(pattern: String, options: String = "") {
        self.pattern = pattern
        self.options = String(options.sorted())
    }
}
