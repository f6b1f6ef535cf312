import CMongoc
import Foundation

/// `bson_t` and `bson_iter_t` are declared 128-byte aligned, which Swift cannot express, so it imports
/// them as opaque. Both are exactly 128 bytes (their fields fit in 128 and a size is a multiple of the
/// alignment), so storage for one is 128 bytes at 128-byte alignment.
enum BSONStorage {
    private static let size = 128
    private static let alignment = 128

    /// Zeroed scratch storage for a `bson_t` or `bson_iter_t`, valid during `body`.
    static func withScratch<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: alignment)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        defer { raw.deallocate() }
        return try body(OpaquePointer(raw))
    }
}

/// Owns one heap `bson_t` and destroys it in one place; the pointer is lent only inside closures.
final class MongocBSON {
    private let pointer: OpaquePointer

    /// An empty document.
    init() throws {
        guard let pointer = bson_new() else { throw MongoError(.client, "bson_new failed (out of memory)") }
        self.pointer = pointer
    }

    /// Takes ownership of a `bson_t` that libbson allocated (`bson_new`, `bson_new_from_data`, …).
    init(adopting pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// A document holding a copy of `bytes`, which must be a whole BSON document.
    convenience init(bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
            let pointer = bson_new_from_data(base, bytes.count)
        else {
            throw MongoError(.decoding, "not a BSON document: its length prefix does not match its \(bytes.count) bytes")
        }
        self.init(adopting: pointer)
    }

    /// Converts a Swift document; throws `.invalidArgument` for values BSON cannot hold.
    convenience init(_ document: BSONDocument) throws {
        try self.init()
        try BSONWriter.append(document, to: pointer)
    }

    deinit { bson_destroy(pointer) }

    /// Lends the `bson_t *`; it must not escape `body`.
    func withUnsafeHandle<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R {
        try body(pointer)
    }

    func makeDocument() throws -> BSONDocument {
        try BSONReader.document(from: pointer)
    }

    /// The document's bytes: its little-endian int32 length prefix says how many.
    var bytes: Data {
        guard let data = bson_get_data(pointer) else { return Data() }
        let length = UnsafeRawPointer(data).loadUnaligned(as: Int32.self).littleEndian
        return Data(bytes: data, count: Int(max(length, 0)))
    }
}

/// Runs `body` with storage for a `bson_t` out-parameter (libmongoc's `reply`) and returns the
/// call's result together with the reply converted to Swift. The storage is initialised empty first,
/// so it can be destroyed whether or not the callee wrote to it.
func withReplyStorage<R>(_ body: (OpaquePointer) throws -> R) throws -> (result: R, reply: BSONDocument) {
    try BSONStorage.withScratch { reply in
        bson_init(reply)
        defer { bson_destroy(reply) }
        let result = try body(reply)
        return (result, try BSONReader.document(from: reply))
    }
}

/// Lends a `bson_t` view of `document` to a libmongoc call.
func withBSON<R>(_ document: BSONDocument, _ body: (OpaquePointer) throws -> R) throws -> R {
    try MongocBSON(document).withUnsafeHandle { try body($0) }
}

// MARK: - Swift → bson_t

enum BSONWriter {
    static func append(_ document: BSONDocument, to bson: OpaquePointer) throws {
        for element in document.fields {
            try append(element.value, key: element.key, to: bson)
        }
    }

    private static func appendArray(_ array: [BSONValue], to bson: OpaquePointer) throws {
        for (index, value) in array.enumerated() {
            try append(value, key: String(index), to: bson)
        }
    }

    private static func fail(_ key: String, _ what: String) -> MongoError {
        MongoError(.invalidArgument, "cannot write field \"\(key)\" as BSON: \(what)", fieldPath: key)
    }

    static func append(_ value: BSONValue, key: String, to bson: OpaquePointer) throws {
        guard !key.utf8.contains(0) else { throw fail(key, "field names cannot contain NUL") }
        guard let keyLength = Int32(exactly: key.utf8.count) else { throw fail(key, "field name longer than 2 GiB") }
        let ok: Bool
        switch value {
        case .double(let v):
            ok = bson_append_double(bson, key, keyLength, v)
        case .string(let s):
            guard let length = Int32(exactly: s.utf8.count) else { throw fail(key, "string longer than 2 GiB") }
            ok = s.withCString { bson_append_utf8(bson, key, keyLength, $0, length) }
        case .document(let d):
            ok = try appendNested(key: key, keyLength: keyLength, to: bson, isArray: false) { try append(d, to: $0) }
        case .array(let a):
            ok = try appendNested(key: key, keyLength: keyLength, to: bson, isArray: true) { try appendArray(a, to: $0) }
        case .binary(let b):
            guard let length = UInt32(exactly: b.data.count) else { throw fail(key, "binary larger than 4 GiB") }
            ok = b.data.withUnsafeBytes { raw in
                bson_append_binary(
                    bson, key, keyLength, bson_subtype_t(UInt32(b.subtype)),
                    raw.baseAddress?.assumingMemoryBound(to: UInt8.self), length)
            }
        case .objectID(let o):
            var oid = bson_oid_t()
            withUnsafeMutableBytes(of: &oid.bytes) { raw in
                for (i, byte) in o.bytes.prefix(12).enumerated() { raw[i] = byte }
            }
            ok = bson_append_oid(bson, key, keyLength, &oid)
        case .bool(let b):
            ok = bson_append_bool(bson, key, keyLength, b)
        case .datetime(let d):
            ok = bson_append_date_time(bson, key, keyLength, BSONValue.milliseconds(since1970: d))
        case .null:
            ok = bson_append_null(bson, key, keyLength)
        case .regex(let r):
            guard !r.pattern.utf8.contains(0), !r.options.utf8.contains(0) else {
                throw fail(key, "regex pattern and options cannot contain NUL")
            }
            ok = bson_append_regex(bson, key, keyLength, r.pattern, r.options)
        case .int32(let v):
            ok = bson_append_int32(bson, key, keyLength, v)
        case .timestamp(let t):
            ok = bson_append_timestamp(bson, key, keyLength, t.seconds, t.increment)
        case .int64(let v):
            ok = bson_append_int64(bson, key, keyLength, v)
        case .decimal128(let d):
            var decimal = try Decimal128Conversion.decimal128(from: d, key: key)
            ok = bson_append_decimal128(bson, key, keyLength, &decimal)
        case .minKey:
            ok = bson_append_minkey(bson, key, keyLength)
        case .maxKey:
            ok = bson_append_maxkey(bson, key, keyLength)
        }
        guard ok else { throw fail(key, "document exceeds the maximum BSON size") }
    }

    private static func appendNested(
        key: String, keyLength: Int32, to parent: OpaquePointer, isArray: Bool, _ fill: (OpaquePointer) throws -> Void
    ) throws -> Bool {
        try BSONStorage.withScratch { child in
            let began =
                isArray
                ? bson_append_array_begin(parent, key, keyLength, child)
                : bson_append_document_begin(parent, key, keyLength, child)
            guard began else { return false }
            do {
                try fill(child)
            } catch {
                // Close the child so the parent is consistent before its owner destroys it.
                _ = isArray ? bson_append_array_end(parent, child) : bson_append_document_end(parent, child)
                throw error
            }
            return isArray ? bson_append_array_end(parent, child) : bson_append_document_end(parent, child)
        }
    }
}

// MARK: - bson_t → Swift

enum BSONReader {
    /// Reads a document libbson or libmongoc produced (libmongoc checks lengths of what it receives;
    /// untrusted bytes go through `bson_validate` first, see `BSONDocument(bsonData:)`).
    static func document(from bson: OpaquePointer) throws -> BSONDocument {
        try BSONStorage.withScratch { iter in
            guard bson_iter_init(iter, bson) else {
                throw MongoError(.decoding, "corrupt BSON document (bad length prefix)")
            }
            return try readDocument(iter, path: "")
        }
    }

    private static func readDocument(_ iter: OpaquePointer, path: String) throws -> BSONDocument {
        var document = BSONDocument()
        while bson_iter_next(iter) {
            let key = String(cString: bson_iter_key(iter))
            let fieldPath = path.isEmpty ? key : path + "." + key
            document.append(key: key, value: try readValue(iter, path: fieldPath))
        }
        return document
    }

    private static func readArray(_ iter: OpaquePointer, path: String) throws -> [BSONValue] {
        var array: [BSONValue] = []
        while bson_iter_next(iter) {
            array.append(try readValue(iter, path: path + "." + String(array.count)))
        }
        return array
    }

    private static func readValue(_ iter: OpaquePointer, path: String) throws -> BSONValue {
        let type = bson_iter_type(iter)
        switch type {
        case BSON_TYPE_DOUBLE:
            return .double(bson_iter_double(iter))
        case BSON_TYPE_UTF8, BSON_TYPE_SYMBOL:
            var length: UInt32 = 0
            let text = type == BSON_TYPE_UTF8 ? bson_iter_utf8(iter, &length) : bson_iter_symbol(iter, &length)
            guard let text else { return .string("") }
            let buffer = UnsafeRawBufferPointer(start: text, count: Int(length))
            return .string(String(decoding: buffer, as: UTF8.self))
        case BSON_TYPE_DOCUMENT, BSON_TYPE_ARRAY:
            return try BSONStorage.withScratch { child in
                guard bson_iter_recurse(iter, child) else {
                    throw MongoError(.decoding, "corrupt BSON subdocument at \(path)", fieldPath: path)
                }
                return type == BSON_TYPE_ARRAY
                    ? .array(try readArray(child, path: path)) : .document(try readDocument(child, path: path))
            }
        case BSON_TYPE_BINARY:
            var subtype = BSON_SUBTYPE_BINARY
            var length: UInt32 = 0
            var bytes: UnsafePointer<UInt8>?
            bson_iter_binary(iter, &subtype, &length, &bytes)
            let data = bytes.map { Data(bytes: $0, count: Int(length)) } ?? Data()
            return .binary(BSONBinary(data: data, subtype: UInt8(truncatingIfNeeded: subtype.rawValue)))
        case BSON_TYPE_UNDEFINED, BSON_TYPE_NULL:
            return .null
        case BSON_TYPE_OID:
            guard let oid = bson_iter_oid(iter) else { throw MongoError(.decoding, "bad ObjectId at \(path)", fieldPath: path) }
            let bytes = withUnsafeBytes(of: oid.pointee.bytes) { Array($0) }
            guard let id = BSONObjectID(bytes: bytes) else { throw MongoError(.decoding, "bad ObjectId at \(path)", fieldPath: path) }
            return .objectID(id)
        case BSON_TYPE_BOOL:
            return .bool(bson_iter_bool(iter))
        case BSON_TYPE_DATE_TIME:
            return .datetime(BSONValue.date(milliseconds: bson_iter_date_time(iter)))
        case BSON_TYPE_REGEX:
            var options: UnsafePointer<CChar>?
            let pattern = bson_iter_regex(iter, &options)
            return .regex(
                BSONRegularExpression(
                    pattern: pattern.map { String(cString: $0) } ?? "", options: options.map { String(cString: $0) } ?? ""))
        case BSON_TYPE_INT32:
            return .int32(bson_iter_int32(iter))
        case BSON_TYPE_TIMESTAMP:
            var seconds: UInt32 = 0
            var increment: UInt32 = 0
            bson_iter_timestamp(iter, &seconds, &increment)
            return .timestamp(BSONTimestamp(seconds: seconds, increment: increment))
        case BSON_TYPE_INT64:
            return .int64(bson_iter_int64(iter))
        case BSON_TYPE_DECIMAL128:
            var decimal = bson_decimal128_t()
            guard bson_iter_decimal128(iter, &decimal) else {
                throw MongoError(.decoding, "bad decimal128 at \(path)", fieldPath: path)
            }
            return .decimal128(try Decimal128Conversion.decimal(from: decimal, path: path))
        case BSON_TYPE_MINKEY:
            return .minKey
        case BSON_TYPE_MAXKEY:
            return .maxKey
        default:
            throw MongoError(
                .decoding, "unsupported BSON type 0x\(String(type.rawValue, radix: 16)) at \(path)", fieldPath: path)
        }
    }
}

// MARK: - Dates and decimals

/// Decimal ↔ decimal128 through libbson's string conversions, never through `Double`.
enum Decimal128Conversion {
    static func decimal128(from value: Decimal, key: String) throws -> bson_decimal128_t {
        let text = decimal128String(value)
        var result = bson_decimal128_t()
        guard bson_decimal128_from_string(text, &result) else {
            throw MongoError(
                .invalidArgument,
                "cannot write field \"\(key)\" as decimal128: \(value) has more than 34 significant digits",
                fieldPath: key)
        }
        return result
    }

    /// `[-]digitsE±exp` from the decimal's own significand and exponent, so no digit is reinterpreted.
    static func decimal128String(_ value: Decimal) -> String {
        if value.isNaN { return "NaN" }
        if value.isZero { return "0" }
        var digits = Array(value.significand.magnitude.description.utf8)
        var exponent = value.exponent
        // Trailing zeros only cost significant digits; fold them into the exponent.
        while digits.count > 1, digits.last == UInt8(ascii: "0") {
            digits.removeLast()
            exponent += 1
        }
        let sign = value.sign == .minus ? "-" : ""
        return "\(sign)\(String(decoding: digits, as: UTF8.self))E\(exponent)"
    }

    static func decimal(from value: bson_decimal128_t, path: String) throws -> Decimal {
        var value = value
        var buffer = [CChar](repeating: 0, count: Int(BSON_DECIMAL128_STRING))
        bson_decimal128_to_string(&value, &buffer)
        let text = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let decimal = decimal(fromDecimal128String: text) else {
            throw MongoError(.decoding, "decimal128 \(text) at \(path) does not fit in a Swift Decimal", fieldPath: path)
        }
        return decimal
    }

    /// Parses libbson's `bson_decimal128_to_string` output (`19.99`, `1.0E+3`, `-0`, `NaN`, `Infinity`).
    static func decimal(fromDecimal128String text: String) -> Decimal? {
        if text == "NaN" { return .nan }
        var chars = Substring(text)
        var negative = false
        if chars.first == "-" || chars.first == "+" {
            negative = chars.first == "-"
            chars = chars.dropFirst()
        }
        var exponent = 0
        if let e = chars.firstIndex(where: { $0 == "E" || $0 == "e" }) {
            guard let parsed = Int(chars[chars.index(after: e)...]) else { return nil }  // also rejects "Infinity"
            exponent = parsed
            chars = chars[..<e]
        }
        var digits = ""
        var sawPoint = false
        for c in chars {
            if c == "." {
                guard !sawPoint else { return nil }
                sawPoint = true
            } else if c.isASCII, c.isNumber {
                digits.append(c)
                if sawPoint { exponent -= 1 }
            } else {
                return nil
            }
        }
        while digits.count > 1, digits.first == "0" { digits.removeFirst() }
        guard !digits.isEmpty else { return nil }
        if digits.allSatisfy({ $0 == "0" }) { return .zero }  // Decimal has no negative zero
        while digits.last == "0" {
            digits.removeLast()
            exponent += 1
        }
        guard (-128...127).contains(exponent), digits.count <= 38, let significand = Decimal(string: digits) else {
            return nil
        }
        return Decimal(sign: negative ? .minus : .plus, exponent: exponent, significand: significand)
    }
}

// MARK: - Public binary form

extension BSONDocument {
    /// The document in BSON's binary format, produced by libbson.
    public func toBSONData() throws -> Data {
        try MongocBSON(self).bytes
    }

    /// Reads a document from BSON's binary format, validated by libbson (lengths, UTF-8).
    public init(bsonData: Data) throws {
        let owned = try bsonData.withUnsafeBytes { try MongocBSON(bytes: $0) }
        var offset = 0
        let valid = owned.withUnsafeHandle { bson_validate($0, bson_validate_flags_t(BSON_VALIDATE_UTF8.rawValue | BSON_VALIDATE_UTF8_ALLOW_NULL.rawValue), &offset) }
        guard valid else { throw MongoError(.decoding, "invalid BSON at byte \(offset)") }
        self = try owned.makeDocument()
    }
}
