/// How a Swift property name becomes a MongoDB field name, in both directions of the coder: camelCase
/// words become snake_case (`tenantID` → `tenant_id`, `createdAt` → `created_at`), and a document's
/// top-level `id` is its `_id`. Names already in snake_case are unchanged, so explicit `CodingKeys`
/// keep working; `[String: V]` keys are data, not names, and are never converted.
enum BSONFieldNames {
    static func field(for key: any CodingKey, at codingPath: [any CodingKey]) -> String {
        let name = key.stringValue
        if name == "id", codingPath.isEmpty { return "_id" }
        return snakeCase(name)
    }

    static func snakeCase(_ name: String) -> String {
        let scalars = Array(name.unicodeScalars)
        guard scalars.contains(where: { $0.properties.isUppercase }) else { return name }
        var result = String.UnicodeScalarView()
        for (index, scalar) in scalars.enumerated() {
            if scalar.properties.isUppercase, index > 0 {
                let previous = scalars[index - 1]
                let next = index + 1 < scalars.count ? scalars[index + 1] : nil
                // A new word: after a lowercase letter or digit (`tenantID`), or the last capital of a
                // run that a lowercase letter follows (`HTTPStatus` → `http_status`).
                let afterLower = previous.properties.isLowercase || ("0"..."9").contains(previous)
                let endOfRun = previous.properties.isUppercase && (next?.properties.isLowercase ?? false)
                if (afterLower || endOfRun), previous != "_" { result.append("_") }
            }
            result.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
        }
        return String(result)
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
