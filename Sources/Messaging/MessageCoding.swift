import Foundation

/// The one JSON form of envelopes and replies on the streams: snake_case keys (from CodingKeys),
/// RFC 3339 times with milliseconds.
public enum MessageCoding {
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        try encoder.encode(value)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try decoder.decode(type, from: data)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try decoder.decode(type, from: Data(text.utf8))
    }

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(formatTimestamp(date))
        }
        return e
    }()

    private static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let text = try c.decode(String.self)
            guard let date = parseTimestamp(text) else {
                throw DecodingError.dataCorruptedError(
                    in: c, debugDescription: "expected an RFC 3339 time such as 2026-01-31T12:00:00.000Z, got '\(text)'")
            }
            return date
        }
        return d
    }()

    /// `2026-01-31T12:00:00.123Z`.
    public static func formatTimestamp(_ date: Date) -> String {
        // Round to the millisecond ourselves: the formatter truncates, and 0.123 is 0.12299… in binary.
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let seconds = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let whole = Date(timeIntervalSince1970: TimeInterval(seconds.remainder < 0 ? seconds.quotient - 1 : seconds.quotient))
        let fraction = seconds.remainder < 0 ? seconds.remainder + 1000 : seconds.remainder
        let base = whole.formatted(Date.ISO8601FormatStyle())  // 2026-01-31T12:00:00Z
        let digits = String(fraction)
        return base.dropLast() + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }

    /// Accepts RFC 3339 with or without fractional seconds.
    public static func parseTimestamp(_ text: String) -> Date? {
        guard
            let parsed = (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
                ?? (try? Date.ISO8601FormatStyle().parse(text))
        else { return nil }
        // Snap to the millisecond, the precision we write, so a round trip gives the same Date.
        return Date(timeIntervalSince1970: (parsed.timeIntervalSince1970 * 1000).rounded() / 1000)
    }
}
