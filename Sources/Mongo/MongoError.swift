import Foundation

/// A MongoDB failure with a code a caller can act on, the server's code and labels, and context.
public struct MongoError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; extensible, compare with `==` against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A unique index rejected the write; ``MongoError/indexName`` says which.
        public static let duplicateKey = Code("duplicateKey")
        /// A `$jsonSchema` (or other) collection validator rejected the document (server code 121).
        public static let validationFailed = Code("validationFailed")
        /// Another transaction touched the same document (code 112 or a TransientTransactionError): retry.
        public static let writeConflict = Code("writeConflict")
        /// The server could not be reached or the connection broke.
        public static let network = Code("network")
        /// The operation, the server selection or the wait for a pooled connection took too long.
        public static let timeout = Code("timeout")
        /// The request itself is wrong (bad URL, bad option, a key with NUL, an unrepresentable value).
        public static let invalidArgument = Code("invalidArgument")
        /// A document did not fit the Swift type; ``MongoError/fieldPath`` names the field.
        public static let decoding = Code("decoding")
        /// A value could not be turned into BSON.
        public static let encoding = Code("encoding")
        /// Any other server-side command error; see ``MongoError/serverCode``.
        public static let server = Code("server")
        /// The client was shut down.
        public static let shutdown = Code("shutdown")
        /// A driver-side failure not covered above.
        public static let client = Code("client")
    }

    /// One failed document of a bulk write.
    public struct WriteError: Sendable, Equatable {
        /// Position of the document in the batch that was sent.
        public var index: Int
        public var serverCode: Int
        public var message: String
        /// Name of the unique index for a duplicate key.
        public var indexName: String?
    }

    public var code: Code
    public var message: String
    /// The server's numeric error code (11000, 121, 112, …), nil for client-side failures.
    public var serverCode: Int?
    /// For ``Code/duplicateKey``: the unique index that was violated, from `index: <name> dup key`.
    public var indexName: String?
    /// Server error labels such as `TransientTransactionError`.
    public var labels: [String]
    /// For bulk writes: every document that failed, by index.
    public var writeErrors: [WriteError]
    /// For bulk writes: how many documents were written despite the failures.
    public var insertedCount: Int?
    /// For ``Code/decoding``: the dotted field path, e.g. `lines.2.amount`.
    public var fieldPath: String?

    public init(
        _ code: Code, _ message: String, serverCode: Int? = nil, indexName: String? = nil,
        labels: [String] = [], writeErrors: [WriteError] = [], insertedCount: Int? = nil, fieldPath: String? = nil
    ) {
        self.code = code
        self.message = message
        self.serverCode = serverCode
        self.indexName = indexName
        self.labels = labels
        self.writeErrors = writeErrors
        self.insertedCount = insertedCount
        self.fieldPath = fieldPath
    }

    public static let transientTransactionLabel = "TransientTransactionError"
    public static let unknownCommitResultLabel = "UnknownTransactionCommitResult"

    public func hasLabel(_ label: String) -> Bool { labels.contains(label) }

    /// True when retrying the whole transaction may succeed.
    public var isTransientTransactionError: Bool { hasLabel(Self.transientTransactionLabel) }

    public var description: String {
        var text = "MongoError.\(code.name): \(message)"
        if let serverCode { text += " (server code \(serverCode))" }
        if let indexName { text += " [index \(indexName)]" }
        if let fieldPath { text += " [field \(fieldPath)]" }
        if !labels.isEmpty { text += " labels=\(labels)" }
        return text
    }
}

extension MongoError {
    /// Maps a server error code (and labels) to the case a caller acts on.
    static func code(forServerCode serverCode: Int, labels: [String]) -> Code {
        switch serverCode {
        case 11000, 11001, 12582: return .duplicateKey
        case 121: return .validationFailed
        case 112: return .writeConflict
        case 50, 262: return .timeout  // MaxTimeMSExpired, ExceededTimeLimit
        case 6, 7, 89, 91, 189, 9001: return .network  // HostUnreachable, HostNotFound, NetworkTimeout…
        default:
            return labels.contains(transientTransactionLabel) ? .writeConflict : .server
        }
    }

    /// The index name in an E11000 message: `… index: email_1 dup key: { … }`.
    static func indexName(inDuplicateKeyMessage message: String) -> String? {
        guard let start = message.range(of: "index: ") else { return nil }
        let rest = message[start.upperBound...]
        let end = rest.range(of: " dup key")?.lowerBound ?? rest.firstIndex(of: " ") ?? rest.endIndex
        let name = rest[..<end].trimmingCharacters(in: .whitespaces)
        return name.isEmpty ? nil : String(name)
    }

    /// Wraps a `DecodingError` so the message names the type and the field path.
    static func decoding(_ error: DecodingError, type: Any.Type) -> MongoError {
        let path = error.bsonFieldPath
        let location = path.isEmpty ? "" : " at \(path)"
        return MongoError(.decoding, "cannot decode \(type)\(location): \(error.bsonReason)", fieldPath: path)
    }

    static func encoding(_ error: any Error, type: Any.Type) -> MongoError {
        if let encodingError = error as? EncodingError, case .invalidValue(_, let context) = encodingError {
            let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return MongoError(
                .encoding, "cannot encode \(type)\(path.isEmpty ? "" : " at \(path)"): \(context.debugDescription)",
                fieldPath: path.isEmpty ? nil : path)
        }
        return MongoError(.encoding, "cannot encode \(type): \(error)")
    }
}
