import Foundation

/// The one JSON form of envelopes, replies and records on the streams and in Redis: snake_case keys
/// from the property names (``FieldNames``: no `CodingKeys`), sorted, RFC 3339 times with
/// milliseconds, decimals with their exact text. Envelopes and replies take the hand-written fast
/// paths (``JSONWriter``, ``JSONReader``); anything else, and the unusual input those give up on,
/// goes through ``ValueEncoder`` and the payload decoder over ``JSONValue``, which reads unknown
/// fields as a newer writer's and passes over them.
public enum MessageCoding {
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        JSONWriter.data(try ValueEncoder.encode(value))
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try _PayloadDecoder(value: try value(data), codingPath: [], strict: false).unbox(T.self)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try decode(type, from: Data(text.utf8))
    }

    /// The JSON text as a value: the fast reader first; `JSONDecoder` decides (and words the error)
    /// when it gives up.
    static func value(_ data: Data) throws -> JSONValue {
        if let value = JSONReader.value(data) { return value }
        return try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// `2026-01-31T12:00:00.123Z` (UTC, rounded to the millisecond; years 0000–9999).
    public static func formatTimestamp(_ date: Date) -> String {
        // Round to the millisecond ourselves: 0.123 is 0.12299… in binary.
        let total = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (days, msOfDay) = floorDivide(total, 86_400_000)
        let (year, month, day) = civil(fromDays: days)
        var out: [UInt8] = []
        out.reserveCapacity(24)
        func digits(_ value: Int64, _ count: Int) {
            var divisor: Int64 = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = max(0, value)
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: (rest / divisor) % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(year, 4); out.append(UInt8(ascii: "-"))
        digits(month, 2); out.append(UInt8(ascii: "-"))
        digits(day, 2); out.append(UInt8(ascii: "T"))
        digits(msOfDay / 3_600_000, 2); out.append(UInt8(ascii: ":"))
        digits(msOfDay / 60_000 % 60, 2); out.append(UInt8(ascii: ":"))
        digits(msOfDay / 1000 % 60, 2); out.append(UInt8(ascii: "."))
        digits(msOfDay % 1000, 3); out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    static func floorDivide(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        let (q, r) = a.quotientAndRemainder(dividingBy: b)
        return r < 0 ? (q - 1, r + b) : (q, r)
    }

    /// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The form we write, `YYYY-MM-DDTHH:MM:SS.sssZ`, read without a formatter. `shaped` is false for
    /// anything of another shape; a shaped text naming an impossible time gives a nil date.
    static func parseCanonical(_ text: String) -> (shaped: Bool, date: Date?) {
        guard text.utf8.count == 24 else { return (false, nil) }
        return text.utf8.withContiguousStorageIfAvailable(parseCanonical)
            ?? Array(text.utf8).withUnsafeBufferPointer(parseCanonical)
    }

    private static func parseCanonical(_ c: UnsafeBufferPointer<UInt8>) -> (shaped: Bool, date: Date?) {
        guard c.count == 24, c[4] == UInt8(ascii: "-"), c[7] == UInt8(ascii: "-"), c[10] == UInt8(ascii: "T"),
            c[13] == UInt8(ascii: ":"), c[16] == UInt8(ascii: ":"), c[19] == UInt8(ascii: "."), c[23] == UInt8(ascii: "Z")
        else { return (false, nil) }
        return (true, canonicalDate(c))
    }

    private static func canonicalDate(_ c: UnsafeBufferPointer<UInt8>) -> Date? {
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for i in range {
                guard c[i] >= UInt8(ascii: "0"), c[i] <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(c[i] - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19), let millisecond = number(20..<23),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60
        else { return nil }
        // Reject days a month does not have (2026-02-30) rather than rolling them over.
        guard civil(fromDays: days(fromCivil: year, month, day)) == (year, month, day) else { return nil }
        let ms = (days(fromCivil: year, month, day) * 86_400 + hour * 3600 + minute * 60 + second) * 1000 + millisecond
        return Date(timeIntervalSince1970: Double(ms) / 1000)
    }

    /// Accepts RFC 3339 with or without fractional seconds.
    public static func parseTimestamp(_ text: String) -> Date? {
        let canonical = parseCanonical(text)
        if canonical.shaped { return canonical.date }
        guard
            let parsed = (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
                ?? (try? Date.ISO8601FormatStyle().parse(text))
        else { return nil }
        // Snap to the millisecond, the precision we write, so a round trip gives the same Date.
        return Date(timeIntervalSince1970: (parsed.timeIntervalSince1970 * 1000).rounded() / 1000)
    }

    /// One line saying what is wrong with a message: a problem's code, or the field a decoder choked on.
    public static func describe(_ error: any Error) -> String {
        if let problem = (error as? any ProblemConvertible)?.problem { return "\(problem.code): \(problem.detail)" }
        if let decoding = error as? DecodingError {
            switch decoding {
            case .keyNotFound(let key, let c): return "missing field '\((c.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
            case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
                let path = c.codingPath.map(\.stringValue).joined(separator: ".")
                return "\(path.isEmpty ? "document" : "field '\(path)'"): \(c.debugDescription)"
            @unknown default: return "\(decoding)"
            }
        }
        return "\(error)"
    }
}
