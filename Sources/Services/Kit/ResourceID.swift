import Foundation
import MessageBus

/// Prefixed, time-ordered object IDs (`cus_0192f4…`, `plan_…`, `usr_…`): the prefix, an underscore,
/// then the 32 lowercase hex digits of a UUIDv7 (RFC 9562). IDs of one prefix sort by creation time
/// (to the millisecond), so `_id` order is "newest first" order for cursor pagination.
public enum ResourceID {
    /// A new ID for `prefix` (without the underscore), stamped with `date` (the billing clock's now).
    public static func make(_ prefix: String, at date: Date) -> String {
        var hex = MessageID.make(at: date)
        hex.removeAll { $0 == "-" }
        return "\(prefix)_\(hex)"
    }

    /// Whether `id` looks like an ID of `prefix`: the prefix, `_`, then 1 to 64 ASCII letters or digits.
    /// IDs are checked for shape only; whether the object exists is the collection's business.
    public static func isWellFormed(_ id: String, prefix: String) -> Bool {
        guard id.hasPrefix(prefix + "_") else { return false }
        let rest = id.utf8.dropFirst(prefix.utf8.count + 1)
        return (1...64).contains(rest.count)
            && rest.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }
    }

    /// A path's `{id}` as an ID of `prefix`; anything else cannot name an object: 404.
    public static func path(_ id: String, prefix: String, what: String) throws(Problem) -> String {
        guard isWellFormed(id, prefix: prefix) else { throw Problem.notFound(what) }
        return id
    }
}
