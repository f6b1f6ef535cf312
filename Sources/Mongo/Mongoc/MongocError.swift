import CMongoc

extension MongoError {
    /// Builds the Swift error from libmongoc's `bson_error_t` and the command reply (labels, write errors).
    static func from(_ error: bson_error_t, reply: BSONDocument? = nil) -> MongoError {
        var error = error
        let message = withUnsafeBytes(of: &error.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        let labels = reply?["errorLabels"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let writeErrors = Self.writeErrors(in: reply)
        let domain = error.domain
        let code = Int(error.code)

        let mapped: Code
        var serverCode: Int?
        // The pool uses error API version 2: every server-side error arrives in the SERVER or
        // WRITE_CONCERN domain with the server's code; other domains carry libmongoc's own codes.
        switch domain {
        case MONGOC_ERROR_STREAM.rawValue:
            mapped = isTimeoutMessage(message) ? .timeout : .network
        case MONGOC_ERROR_SERVER_SELECTION.rawValue:
            mapped = .network
        case MONGOC_ERROR_SERVER.rawValue, MONGOC_ERROR_WRITE_CONCERN.rawValue:
            serverCode = code
            mapped = Self.code(forServerCode: code, labels: labels)
        case MONGOC_ERROR_COMMAND.rawValue, MONGOC_ERROR_BSON.rawValue, MONGOC_ERROR_NAMESPACE.rawValue:
            mapped = .invalidArgument
        default:
            mapped = labels.contains(transientTransactionLabel) ? .writeConflict : .client
        }

        let duplicateIndex =
            mapped == .duplicateKey
            ? Self.indexName(inDuplicateKeyMessage: message) ?? writeErrors.lazy.compactMap(\.indexName).first : nil
        return MongoError(
            mapped, message, serverCode: serverCode, indexName: duplicateIndex, labels: labels, writeErrors: writeErrors)
    }

    /// A failure libmongoc reports without a `bson_error_t` (a NULL handle, a pool that timed out).
    static func client(_ message: String) -> MongoError { MongoError(.client, message) }

    private static func isTimeoutMessage(_ message: String) -> Bool {
        let lower = message.lowercased()
        return lower.contains("timed out") || lower.contains("timeout")
    }

    static func writeErrors(in reply: BSONDocument?) -> [WriteError] {
        guard let entries = reply?["writeErrors"]?.arrayValue else { return [] }
        return entries.compactMap { entry in
            guard let doc = entry.documentValue else { return nil }
            let code = doc["code"]?.intValue ?? 0
            let message = doc["errmsg"]?.stringValue ?? ""
            let isDuplicate = code == 11000 || code == 11001
            return WriteError(
                index: doc["index"]?.intValue ?? 0, serverCode: code, message: message,
                indexName: isDuplicate ? indexName(inDuplicateKeyMessage: message) : nil)
        }
    }
}
