import Foundation

// BSONEncoder and BSONDecoder store these types directly. The conformances below only run under
// other coders (JSONEncoder in logs or HTTP bodies) and give a plain JSON shape.

extension BSONValue: Codable {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .double(let v): try container.encode(v)
        case .string(let v): try container.encode(v)
        case .document(let v): try container.encode(v)
        case .array(let v): try container.encode(v)
        case .binary(let v): try container.encode(v)
        case .objectID(let v): try container.encode(v)
        case .bool(let v): try container.encode(v)
        case .datetime(let v): try container.encode(BSONValue.iso8601(v))
        case .null: try container.encodeNil()
        case .regex(let v): try container.encode(v)
        case .int32(let v): try container.encode(v)
        case .timestamp(let v): try container.encode(v)
        case .int64(let v): try container.encode(v)
        case .decimal128(let v): try container.encode(v.description)
        case .minKey: try container.encode(["$minKey": 1])
        case .maxKey: try container.encode(["$maxKey": 1])
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let v = try? container.decode(Bool.self) {
            self = .bool(v)
        } else if let v = try? container.decode(Int64.self) {
            self = Int32(exactly: v).map(BSONValue.int32) ?? .int64(v)
        } else if let v = try? container.decode(Double.self) {
            self = .double(v)
        } else if let v = try? container.decode(String.self) {
            self = .string(v)
        } else if let v = try? container.decode([BSONValue].self) {
            self = .array(v)
        } else {
            self = .document(try container.decode(BSONDocument.self))
        }
    }
}

extension BSONDocument: Codable {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: _BSONKey.self)
        for element in fields {
            try container.encode(element.value, forKey: _BSONKey(stringValue: element.key))
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: _BSONKey.self)
        self.init()
        for key in container.allKeys {
            self[key.stringValue] = try container.decode(BSONValue.self, forKey: key)
        }
    }
}

extension BSONObjectID: Codable {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let hex = try container.decode(String.self)
        guard let id = BSONObjectID(hex: hex) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "\"\(hex)\" is not 24 hex digits"))
        }
        self = id
    }
}

extension BSONBinary: Codable {
    private enum CodingKeys: String, CodingKey { case subtype, base64 }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(subtype, forKey: .subtype)
        try container.encode(data.base64EncodedString(), forKey: .base64)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let base64 = try container.decode(String.self, forKey: .base64)
        guard let data = Data(base64Encoded: base64) else {
            throw DecodingError.dataCorruptedError(forKey: .base64, in: container, debugDescription: "invalid base64")
        }
        self.init(data: data, subtype: try container.decode(UInt8.self, forKey: .subtype))
    }
}

