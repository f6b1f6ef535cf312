import Foundation
import HTTPTypes
import Hummingbird
import MessageBus

/// An error the edge answers itself (auth, limits, validation), rendered as RFC 9457 problem+json.
public struct GatewayError: Error, Sendable {
    public var problem: Problem
    public var headers: HTTPFields

    public init(_ problem: Problem, headers: HTTPFields = [:]) {
        self.problem = problem
        self.headers = headers
    }

    public init(status: Int, code: String, title: String, detail: String, param: String? = nil, headers: HTTPFields = [:]) {
        self.init(Problem(status: status, code: code, title: title, detail: detail, param: param), headers: headers)
    }

    static func unauthorized(_ detail: String) -> GatewayError {
        GatewayError(
            status: 401, code: "unauthorized", title: "Unauthorized", detail: detail,
            headers: [.wwwAuthenticate: "Bearer realm=\"billing\""])
    }
    static func forbidden(_ detail: String) -> GatewayError {
        GatewayError(status: 403, code: "forbidden", title: "Forbidden", detail: detail)
    }
    static func badRequest(_ detail: String, param: String? = nil) -> GatewayError {
        GatewayError(status: 400, code: "invalid_request", title: "Invalid request", detail: detail, param: param)
    }
    static func unavailable(_ detail: String) -> GatewayError {
        GatewayError(status: 503, code: "unavailable", title: "Service unavailable", detail: detail, headers: [.retryAfter: "1"])
    }
}

/// Rendering of problems and JSON bodies.
enum ProblemResponse {
    static let problemType = "application/problem+json"

    /// The problem as JSON with `request_id` added.
    static func body(_ problem: Problem, requestID: String) -> ByteBuffer {
        var object: [String: JSONValue] = [
            "type": .string(problem.type), "title": .string(problem.title), "status": .number(String(problem.status)),
            "detail": .string(problem.detail), "code": .string(problem.code), "request_id": .string(requestID),
        ]
        if let param = problem.param { object["param"] = .string(param) }
        return json(.object(object))
    }

    static func response(_ problem: Problem, requestID: String, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = problemType
        let buffer = body(problem, requestID: requestID)
        return Response(status: .init(code: problem.status), headers: headers, body: .init(byteBuffer: buffer))
    }

    static func json(_ value: JSONValue) -> ByteBuffer {
        let data = (try? MessageCoding.encode(value)) ?? Data("null".utf8)
        return ByteBuffer(bytes: data)
    }

    static func jsonResponse(_ value: JSONValue, status: Int = 200, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/json"
        let buffer = json(value)
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: buffer))
    }
}

/// A response the gateway builds in memory, kept as bytes so it can be stored for idempotent replays.
struct Answer: Sendable {
    var status: Int
    var headers: HTTPFields
    var body: ByteBuffer?

    static func json(_ value: JSONValue, status: Int = 200, headers: HTTPFields = [:]) -> Answer {
        var headers = headers
        headers[.contentType] = "application/json"
        return Answer(status: status, headers: headers, body: ProblemResponse.json(value))
    }

    static func problem(_ problem: Problem, requestID: String, headers: HTTPFields = [:]) -> Answer {
        var headers = headers
        headers[.contentType] = ProblemResponse.problemType
        if let retryAfter = problem.retryAfter { headers[.retryAfter] = String(max(1, retryAfter)) }
        return Answer(status: problem.status, headers: headers, body: ProblemResponse.body(problem, requestID: requestID))
    }

    var response: Response {
        Response(status: .init(code: status), headers: headers, body: body.map { .init(byteBuffer: $0) } ?? .init())
    }
}
