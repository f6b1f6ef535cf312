import Foundation
import HTTPTypes
import Hummingbird
import MessageBus

/// The RFC 6749 shapes of the token endpoint: its request body (form-encoded or JSON, client
/// credentials from `Authorization: Basic`, §2.3.1) and its error bodies (§5.2).
enum OAuthError {
    /// The §5.2 error codes a worker may answer with; anything else is reported as `invalid_request`.
    static let codes: Set<String> = [
        "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
        "invalid_scope",
    ]

    /// `{"error", "error_description"}` for a 4xx; rate limits and outages keep their problem+json.
    static func answer(for problem: Problem, requestID: String, headers: HTTPFields) -> Answer {
        guard (400..<500).contains(problem.status), problem.status != 429 else {
            return Answer.problem(problem, requestID: requestID, headers: headers)
        }
        let code = codes.contains(problem.code) ? problem.code : "invalid_request"
        var headers = headers
        var status = code == "invalid_client" ? 401 : 400
        if code == "invalid_client" {
            headers[.wwwAuthenticate] = "Basic realm=\"billing\", charset=\"UTF-8\""
        } else {
            headers[.wwwAuthenticate] = nil
        }
        if problem.status == 413 || problem.status == 415 { status = problem.status }
        var description = problem.detail
        if let param = problem.param, code == "invalid_request" { description = "\(param): \(description)" }
        return Answer.json(
            .object(["error": .string(code), "error_description": .string(description)]), status: status, headers: headers)
    }

    static func invalidRequest(_ detail: String, param: String? = nil) -> GatewayError {
        GatewayError(status: 400, code: "invalid_request", title: "Invalid request", detail: detail, param: param)
    }

    /// The token request as a JSON object: `application/x-www-form-urlencoded` (RFC 6749) or JSON,
    /// with `client_id`/`client_secret` taken from `Authorization: Basic` when present.
    static func tokenRequestBody(_ bytes: [UInt8], contentType: String?, authorization: String?) throws(GatewayError)
        -> JSONValue
    {
        var members: [String: JSONValue] = [:]
        if !bytes.isEmpty {
            let mediaType = contentType.flatMap { MediaType(from: $0) }
            if let mediaType, mediaType.isType(.applicationUrlEncoded) {
                for (name, value) in try formFields(bytes) {
                    guard members[name] == nil else {
                        throw invalidRequest("the parameter '\(name)' is given more than once", param: name)
                    }
                    members[name] = .string(value)
                }
            } else if case .object(let object) = try CommandEndpoint.parseJSONObject(bytes, contentType: contentType) {
                members = object
            }
        }
        if let authorization, let (id, secret) = try basicCredentials(authorization) {
            guard members["client_id"] == nil || members["client_id"] == .string(id), members["client_secret"] == nil else {
                throw invalidRequest("send the client's credentials either in Authorization: Basic or in the body, not both")
            }
            members["client_id"] = .string(id)
            members["client_secret"] = .string(secret)
        }
        return .object(members)
    }

    /// `Basic base64(urlencode(id):urlencode(secret))`; nil for another scheme (a Bearer token here is ignored).
    static func basicCredentials(_ header: String) throws(GatewayError) -> (String, String)? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic" else { return nil }
        guard let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else {
            throw GatewayError(
                status: 401, code: "invalid_client", title: "Invalid client",
                detail: "the Basic credentials are not base64 of 'client_id:client_secret'")
        }
        let id = String(text[..<colon]).removingPercentEncoding ?? String(text[..<colon])
        let secret = String(text[text.index(after: colon)...])
        return (id, secret.removingPercentEncoding ?? secret)
    }

    /// `a=1&b=x+y` → pairs, `+` as space and percent-decoded (HTML's form encoding).
    static func formFields(_ bytes: [UInt8]) throws(GatewayError) -> [(String, String)] {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw invalidRequest("the form body is not UTF-8")
        }
        var fields: [(String, String)] = []
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) throws(GatewayError) -> String {
                guard let decoded = s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
                    throw invalidRequest("the form body has a malformed percent-encoding in '\(s.prefix(40))'")
                }
                return decoded
            }
            fields.append((try decode(kv[0]), kv.count > 1 ? try decode(kv[1]) : ""))
        }
        return fields
    }
}
