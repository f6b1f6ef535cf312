/// How a Swift property name becomes a field name on the wire and in the database: camelCase words
/// become snake_case (`tenantID` → `tenant_id`, `createdAt` → `created_at`, `HTTPStatus` →
/// `http_status`). Names already in snake_case are unchanged, so an explicit `CodingKeys` still
/// wins. The JSON payload decoder (MessageBus) and the BSON coder (Mongo) share it.
public enum FieldNames {
    public static func snakeCase(_ name: String) -> String {
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
                if afterLower || endOfRun, previous != "_" { result.append("_") }
            }
            result.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
        }
        return String(result)
    }
}
