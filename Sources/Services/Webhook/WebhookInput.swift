import Foundation
import MessageBus

/// The command's `path`, `query` and `body`, with typed access: each failure is a 422 naming the field.
struct WebhookInput {
    let body: [String: JSONValue]
    let path: [String: JSONValue]
    let query: [String: JSONValue]

    init(_ envelope: Envelope) throws {
        switch envelope.payload["body"] {
        case .object(let members)?: body = members
        case nil, .null?: body = [:]
        default: throw Problem.invalid("body", "the body must be a JSON object")
        }
        if case .object(let members)? = envelope.payload["path"] { path = members } else { path = [:] }
        if case .object(let members)? = envelope.payload["query"] { query = members } else { query = [:] }
    }

    func optionalString(_ name: String, maxLength: Int) throws -> String? {
        switch body[name] {
        case nil, .null?: return nil
        case .string(let s)?:
            guard s.count <= maxLength else { throw Problem.invalid(name, "must be at most \(maxLength) characters") }
            return s
        default: throw Problem.invalid(name, "must be a string")
        }
    }

    func string(_ name: String, maxLength: Int) throws -> String {
        guard let value = try optionalString(name, maxLength: maxLength), !value.isEmpty else {
            throw Problem.invalid(name, "is required")
        }
        return value
    }

    /// Event types to subscribe to: `*`, or names such as `invoice.paid`; at least one.
    func eventTypes(_ name: String) throws -> [String] {
        guard case .array(let items)? = body[name], !items.isEmpty else {
            throw Problem.invalid(name, "is required: a non-empty list of event types such as [\"invoice.paid\"], or [\"*\"]")
        }
        var types: [String] = []
        for item in items {
            guard let type = item.stringValue, type == "*" || type.wholeMatch(of: /[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+/) != nil
            else {
                throw Problem.invalid(name, "each entry must be '*' or an event type such as 'invoice.paid'")
            }
            if !types.contains(type) { types.append(type) }
        }
        return types
    }

    func pathID(_ name: String = "id") throws -> String {
        guard let id = path[name]?.stringValue, !id.isEmpty else { throw Problem.invalid(name, "is required") }
        return id
    }

    func queryString(_ name: String) -> String? {
        switch query[name] {
        case .string(let s)?: s
        case .number(let n)?: n
        default: nil
        }
    }

    /// `limit`: 1–100, default 10.
    func limit() throws -> Int {
        guard let text = queryString("limit") else { return 10 }
        guard let value = Int(text), (1...100).contains(value) else {
            throw Problem.invalid("limit", "must be a whole number from 1 to 100")
        }
        return value
    }

    func queryTime(_ name: String) throws -> Date? {
        guard let text = queryString(name) else { return nil }
        guard let date = MessageCoding.parseTimestamp(text) else {
            throw Problem.invalid(name, "must be an RFC 3339 time such as 2026-01-31T12:00:00Z")
        }
        return date
    }
}
