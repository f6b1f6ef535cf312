import Foundation

/// Lowercase hexadecimal, without `String(format:)` (which costs a Foundation formatter per byte).
public enum Hex {
    static let digits = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of an even-length hexadecimal text (either case); nil for anything else.
    public static func decode(_ text: String) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard characters.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(characters.count / 2)
        for i in stride(from: 0, to: characters.count, by: 2) {
            guard let high = MessageID.hexValue(characters[i]), let low = MessageID.hexValue(characters[i + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }
}

/// Time-ordered message IDs (UUIDv7, RFC 9562): 48 bits of Unix milliseconds, then random bits.
public enum MessageID {
    ///
    /// `rand_a` (12 bits) holds the fraction of the millisecond (RFC 9562 §6.2, method 3), so IDs
    /// made within one millisecond still sort by time; `rand_b` is 62 random bits (one call to the
    /// system's random source per ID).
    public static func make(at date: Date = Date()) -> String {
        var generator = SystemRandomNumberGenerator()
        let random = generator.next() as UInt64
        let milliseconds = max(0, date.timeIntervalSince1970 * 1000)
        let ms = UInt64(milliseconds)
        let fraction = min(4095, UInt64((milliseconds - Double(ms)) * 4096))
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<6 { bytes[i] = UInt8((ms >> (8 * (5 - UInt64(i)))) & 0xFF) }
        bytes[6] = 0x70 | UInt8(fraction >> 8)  // version 7, then the fraction's top 4 bits
        bytes[7] = UInt8(truncatingIfNeeded: fraction)
        for i in 8..<16 { bytes[i] = UInt8(truncatingIfNeeded: random >> (8 * UInt64(i - 8))) }
        bytes[8] = 0x80 | (bytes[8] & 0x3F)  // RFC 9562 variant
        return format(bytes)
    }

    /// 16 bytes as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    public static func format(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (i, byte) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(Hex.digits[Int(byte >> 4)])
            out.append(Hex.digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The millisecond timestamp inside a UUIDv7, or nil for anything else.
    public static func timestamp(of id: String) -> Date? {
        let utf8 = Array(id.utf8)
        // 8-4-4-…: the version digit is the first of the third group.
        guard utf8.count == 36, utf8[8] == UInt8(ascii: "-"), utf8[13] == UInt8(ascii: "-"), utf8[14] == UInt8(ascii: "7")
        else { return nil }
        var ms: UInt64 = 0
        for index in [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12] {
            guard let digit = hexValue(utf8[index]) else { return nil }
            ms = ms << 4 | UInt64(digit)
        }
        return Date(timeIntervalSince1970: Double(ms) / 1000)
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
