import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore

// What the gateway-facing tests share for talking JSON to `app.test(.router)`.

public let jsonHeaders: HTTPFields = [.contentType: "application/json"]

public func + (lhs: HTTPFields, rhs: HTTPFields) -> HTTPFields {
    var result = lhs
    result.append(contentsOf: rhs)
    return result
}

public func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

extension TestResponse {
    /// The body as a JSON object (empty when it is not one).
    public var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]) ?? [:]
    }

    public var text: String { String(buffer: body) }
}

extension TestClientProtocol {
    /// POSTs JSON and returns status and decoded body.
    @discardableResult
    public func post(_ uri: String, _ body: String = "{}", headers: HTTPFields = [:]) async throws
        -> (HTTPResponse.Status, [String: Any])
    {
        try await execute(uri: uri, method: .post, headers: jsonHeaders + headers, body: ByteBuffer(string: body)) {
            ($0.status, $0.json)
        }
    }

    public func get(_ uri: String, headers: HTTPFields = [:]) async throws -> (HTTPResponse.Status, [String: Any]) {
        try await execute(uri: uri, method: .get, headers: headers) { ($0.status, $0.json) }
    }
}
