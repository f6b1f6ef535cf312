import FieldNames

/// How a Swift property name becomes a MongoDB field name, in both directions of the coder:
/// ``FieldNames/snakeCase(_:)``, and a document's top-level `id` is its `_id`. Names already in snake_case are unchanged, so explicit `CodingKeys`
/// keep working; `[String: V]` keys are data, not names, and are never converted.
enum BSONFieldNames {
    static func field(for key: any CodingKey, at codingPath: [any CodingKey]) -> String {
        let name = key.stringValue
        if name == "id", codingPath.isEmpty { return "_id" }
        return FieldNames.snakeCase(name)
    }
}

/// `[String: V]` decoded straight from a document: its keys are data and are not converted.
protocol _BSONStringKeyedDictionaryDecodable {
    static func _bsonDecode(_ document: BSONDocument, decoder: _BSONDecoder) throws -> Self
}

extension Dictionary: _BSONStringKeyedDictionaryDecodable where Key == String, Value: Decodable {
    static func _bsonDecode(_ document: BSONDocument, decoder: _BSONDecoder) throws -> Self {
        var result: [String: Value] = [:]
        result.reserveCapacity(document.fields.count)
        for field in document.fields where result[field.key] == nil {
            let (key, value) = (field.key, field.value)
            let path = decoder.codingPath + [_BSONKey(stringValue: key)]
            result[key] = try _BSONDecoder(value: value, codingPath: path).unbox(value, as: Value.self)
        }
        return result
    }
}
