import Foundation
import MessageBus

/// Refuses card numbers before anything is queued: no primary account number may reach a stream,
/// a collection or a log (PCI DSS). A run of 13–19 digits (spaces or dashes allowed between them)
/// that passes the Luhn check, in any string or number of the body, is a 422 naming the field.
enum CardNumberGuard {
    /// The JSON path of the first card-number-shaped value, or nil.
    static func firstCardNumber(in value: JSONValue, path: String = "") -> String? {
        switch value {
        case .string(let text): return containsCardNumber(text) ? path : nil
        case .number(let text): return containsCardNumber(text) ? path : nil
        case .array(let items):
            for (index, item) in items.enumerated() {
                if let found = firstCardNumber(in: item, path: "\(path)[\(index)]") { return found }
            }
            return nil
        case .object(let members):
            for key in members.keys.sorted() {
                let child = path.isEmpty ? key : "\(path).\(key)"
                if containsCardNumber(key) { return child }
                if let value = members[key], let found = firstCardNumber(in: value, path: child) { return found }
            }
            return nil
        case .null, .bool: return nil
        }
    }

    /// Whether `text` holds a standalone run of 13–19 digits (single spaces or dashes allowed
    /// between digits) that passes the Luhn check. Standalone: not glued to a letter, digit or `_`
    /// on either side, so the hexadecimal part of an ID (`pm_0192…`), which now and then holds a
    /// Luhn-valid stretch of decimal digits, is never mistaken for a card number.
    static func containsCardNumber(_ text: String) -> Bool {
        func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
            scalar == "_" || (scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar)))
                || (!scalar.isASCII && CharacterSet.letters.contains(scalar))
        }
        var digits: [UInt8] = []
        var pendingSeparator = false
        var gluedBefore = false
        var previous: Unicode.Scalar?
        func runIsCardNumber(gluedAfter: Bool) -> Bool {
            !gluedBefore && !gluedAfter && (13...19).contains(digits.count) && luhn(digits[...])
        }
        for scalar in text.unicodeScalars {
            if scalar.value >= 48 && scalar.value <= 57 {
                if digits.isEmpty { gluedBefore = previous.map(isWordCharacter) ?? false }
                digits.append(UInt8(scalar.value - 48))
                pendingSeparator = false
            } else if (scalar == " " || scalar == "-") && !digits.isEmpty && !pendingSeparator {
                pendingSeparator = true
            } else {
                if !digits.isEmpty {
                    // A trailing separator ends the run; what follows it is not glued to the digits.
                    if runIsCardNumber(gluedAfter: !pendingSeparator && isWordCharacter(scalar)) { return true }
                }
                digits.removeAll()
                pendingSeparator = false
            }
            previous = scalar
        }
        return !digits.isEmpty && runIsCardNumber(gluedAfter: false)
    }

    static func luhn(_ digits: ArraySlice<UInt8>) -> Bool {
        var sum = 0
        for (offset, digit) in digits.reversed().enumerated() {
            var d = Int(digit)
            if offset % 2 == 1 {
                d *= 2
                if d > 9 { d -= 9 }
            }
            sum += d
        }
        return sum % 10 == 0
    }
}
