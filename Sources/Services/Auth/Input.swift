import Foundation
import Messaging

/// The command's `body` with typed field access: each failure is a 422 naming the field.
struct Input {
    let body: [String: JSONValue]
    let path: [String: JSONValue]

    init(_ envelope: Envelope) throws {
        switch envelope.payload["body"] {
        case .object(let members)?: body = members
        case nil, .null?: body = [:]
        default: throw Problem.invalid("body", "the body must be a JSON object")
        }
        if case .object(let members)? = envelope.payload["path"] { path = members } else { path = [:] }
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

    /// Trimmed and lowercased, and shaped like an address.
    func email(_ name: String) throws -> String {
        let email = try string(name, maxLength: 254).trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard email.wholeMatch(of: /[^@\s]+@[^@\s]+\.[^@\s]+/) != nil else {
            throw Problem.invalid(name, "'\(email.prefix(80))' is not an email address")
        }
        return email
    }

    func scopes(_ name: String) throws -> [String]? {
        switch body[name] {
        case nil, .null?: return nil
        case .array(let items)?:
            var scopes: [String] = []
            for item in items {
                guard let scope = item.stringValue, scope.wholeMatch(of: /[a-z_]+:(read|write)/) != nil else {
                    throw Problem.invalid(name, "each scope must look like 'customers:read' or 'invoices:write'")
                }
                if !scopes.contains(scope) { scopes.append(scope) }
            }
            return scopes
        default: throw Problem.invalid(name, "must be an array of scopes")
        }
    }

    func pathID(_ name: String = "id") throws -> String {
        guard let id = path[name]?.stringValue, !id.isEmpty else { throw Problem.invalid(name, "is required") }
        return id
    }
}
