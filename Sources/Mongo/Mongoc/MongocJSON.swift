import CMongoc

extension BSONDocument {
    /// Parses JSON with libbson, which also reads MongoDB Extended JSON (`{"$numberDecimal": "19.99"}`,
    /// `{"$date": …}`, `{"$oid": …}`); whole numbers become int32/int64, others double.
    public init(json: String) throws {
        var error = bson_error_t()
        let bytes = Array(json.utf8)
        let parsed = bytes.withUnsafeBufferPointer { buffer in
            bson_new_from_json(buffer.baseAddress, buffer.count, &error)
        }
        guard let parsed else {
            throw MongoError(.invalidArgument, "invalid JSON: \(MongoError.from(error).message)")
        }
        self = try MongocBSON(adopting: parsed).makeDocument()
    }

    /// Relaxed Extended JSON (`{"amount": {"$numberDecimal": "19.99"}, "at": {"$date": "…"}}`), for logs and fixtures.
    public func extendedJSON() throws -> String {
        try MongocBSON(self).withUnsafeHandle { bson in
            var length = 0
            guard let text = bson_as_relaxed_extended_json(bson, &length) else {
                throw MongoError(.encoding, "libbson could not render the document as JSON")
            }
            defer { bson_free(text) }
            return String(cString: text)
        }
    }
}
