import Foundation
import MessageBus
import Mongo

/// BSON as API JSON: dates as RFC 3339 strings with milliseconds, Decimal128 as decimal strings
/// (never a JSON number, so no client reads money as a float), ObjectIds as hex.
public enum DocumentJSON {
    public static func json(_ document: BSONDocument) -> JSONValue {
        var object: [String: JSONValue] = [:]
        for (key, value) in document { object[key] = json(value) }
        return .object(object)
    }

    public static func json(_ value: BSONValue) -> JSONValue {
        switch value {
        case .double(let v): return v.isFinite ? .number(String(v)) : .null
        case .string(let s): return .string(s)
        case .document(let d): return json(d)
        case .array(let a): return .array(a.map(json))
        case .binary(let b): return .string(b.data.base64EncodedString())
        case .objectID(let o): return .string(o.hex)
        case .bool(let b): return .bool(b)
        case .datetime(let d): return timestamp(d)
        case .null, .minKey, .maxKey: return .null
        case .regex(let r): return .string("/\(r.pattern)/\(r.options)")
        case .int32(let v): return .number(String(v))
        case .timestamp(let t): return .number(String(t.seconds))
        case .int64(let v): return .number(String(v))
        case .decimal128(let d): return .string(decimal(d))
        }
    }

    public static func timestamp(_ date: Date) -> JSONValue { .string(MessageCoding.formatTimestamp(date)) }

    /// Plain decimal text, no exponent, `.` as separator (`"19.9"`; format money with `Money.formatted`).
    public static func decimal(_ value: Decimal) -> String {
        NSDecimalNumber(decimal: value).description(withLocale: Locale(identifier: "en_US_POSIX"))
    }
}
