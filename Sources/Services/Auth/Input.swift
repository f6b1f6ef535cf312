import Foundation
import MessageBus
import ServiceKit

/// The command's fields through ServiceKit's readers (each failure a 422 naming the field), with
/// the shapes auth needs: required non-empty strings, normalised emails, scope lists.
struct Input {
    let command: CommandInput
    let fields: FieldReader

    /// `allowing`: the body fields this command takes; any other is refused.
    init(_ envelope: Envelope, allowing: Set<String>) throws {
        command = try CommandInput(envelope.payload)
        fields = try command.body(allowing: allowing)
    }

    var body: [String: JSONValue] { command.body }

    func string(_ name: String, maxLength: Int) throws -> String {
        try fields.string(name, required: true, minLength: 1, maxLength: maxLength) ?? ""
    }

    func optionalString(_ name: String, maxLength: Int) throws -> String? {
        try fields.string(name, maxLength: maxLength)
    }

    /// Lowercased (ServiceKit's email check).
    func email(_ name: String) throws -> String {
        try fields.email(name, required: true) ?? ""
    }

    /// Scopes such as `customers:read`, without repeats.
    func scopes(_ name: String) throws -> [String]? {
        guard let listed = try fields.strings(name, maxItems: 50, maxLength: 100) else { return nil }
        var scopes: [String] = []
        for scope in listed where !scopes.contains(scope) {
            guard scope.wholeMatch(of: /[a-z_]+:(read|write)/) != nil else {
                throw Problem.invalid(name, "each scope must look like 'customers:read' or 'invoices:write'")
            }
            scopes.append(scope)
        }
        return scopes
    }

    func pathID(prefix: String, what: String) throws -> String {
        try command.pathID(prefix: prefix, what: what)
    }
}

extension JSONValue {
    /// The member names of an object (empty for anything else).
    var objectKeys: [String] {
        if case .object(let members) = self { return Array(members.keys) }
        return []
    }
}
