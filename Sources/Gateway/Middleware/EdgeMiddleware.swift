import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MessageBus

/// The outermost layer: gives every request its `Request-Id`, renders every error as problem+json,
/// adds the security headers to every response (errors included), counts and logs the request.
struct EdgeMiddleware: RouterMiddleware {
    typealias Context = GatewayContext
    let configuration: GatewayConfiguration
    let metrics: GatewayMetrics
    let logger: Logger

    static let requestIDHeader = HTTPField.Name("Request-Id")!

    /// A client's `Request-Id` is kept when it is a sane token of at most 64 characters (ASCII
    /// letters, digits and `-_.:`).
    static func requestID(from header: String?) -> String {
        if let header, !header.isEmpty, header.utf8.count <= 64, header.utf8.allSatisfy(isTokenByte) {
            return header
        }
        return "req_" + String(decoding: MessageID.make().utf8.filter { $0 != UInt8(ascii: "-") }, as: UTF8.self)
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"):
            true
        default: false
        }
    }

    /// The security headers every answer carries, made once (`Cache-Control` is added apart: a
    /// route may choose its own).
    let securityHeaders: HTTPFields

    init(configuration: GatewayConfiguration, metrics: GatewayMetrics, logger: Logger) {
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.securityHeaders = [
            .strictTransportSecurity: configuration.hsts, .xContentTypeOptions: "nosniff",
            HTTPField.Name("X-Frame-Options")!: "DENY", HTTPField.Name("Referrer-Policy")!: "no-referrer",
            .contentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'",
        ]
    }

    /// Answers slower than this are logged at info level even when they succeeded.
    static let slowRequest: Duration = .seconds(1)

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let started = ContinuousClock.now
        let requestID = Self.requestID(from: request.headers[Self.requestIDHeader])
        context.state.requestID = requestID
        metrics.started()
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = Self.render(error, requestID: requestID, logger: logger)
        }
        addSecurityHeaders(&response, requestID: requestID)
        let duration = ContinuousClock.now - started
        let status = response.status.code
        let route = context.state.route
        metrics.finished(route: route, status: status, duration: duration)
        // One line per request at debug level for answers that went well and fast; at info for
        // refusals, failures and slow answers (a flood of successes fills no log at the default level).
        let level: Logger.Level = status >= 400 || duration >= Self.slowRequest ? .info : .debug
        guard logger.logLevel <= level else { return response }
        let principal = context.state.principal
        logger.log(
            level: level, "request",
            metadata: [
                "request_id": "\(requestID)", "correlation_id": "\(requestID)", "route": "\(route)",
                "method": "\(request.method.rawValue)", "status": "\(status)",
                "duration_ms": "\(String(format: "%.3f", Double(duration.components.attoseconds) / 1e15 + Double(duration.components.seconds) * 1000))",
                "principal": "\(principal.map { "\($0.tenant)/\($0.subject)" } ?? "anonymous")",
            ])
        return response
    }

    /// Any error as a problem+json response: ours keep their status, anything unexpected is a 500.
    static func render(_ error: any Error, requestID: String, logger: Logger) -> Response {
        switch error {
        case let error as GatewayError:
            return ProblemResponse.response(error.problem, requestID: requestID, headers: error.headers)
        case let error as Problem:
            return ProblemResponse.response(error, requestID: requestID)
        case let error as HTTPError:
            return ProblemResponse.response(problem(for: error), requestID: requestID, headers: error.headers)
        default:
            logger.error("request failed", metadata: ["request_id": "\(requestID)", "error": "\(error)"])
            return ProblemResponse.response(
                Problem(
                    status: 500, code: "internal", title: "Internal error",
                    detail: "the gateway failed; the request id identifies it in the logs"),
                requestID: requestID)
        }
    }

    static func problem(for error: HTTPError) -> Problem {
        switch error.status.code {
        case 404: return Problem(status: 404, code: "route_not_found", title: "Not found", detail: error.body ?? "no such route")
        case 405: return Problem(status: 405, code: "method_not_allowed", title: "Method not allowed", detail: error.body ?? "method not allowed here")
        case 413: return Problem(status: 413, code: "body_too_large", title: "Payload too large", detail: error.body ?? "the request body is too large")
        default:
            return Problem(
                status: error.status.code, code: "http_\(error.status.code)", title: error.status.reasonPhrase,
                detail: error.body ?? error.status.reasonPhrase)
        }
    }

    private func addSecurityHeaders(_ response: inout Response, requestID: String) {
        // Appended, not looked up one by one: no route sets these (they are the edge's alone).
        response.headers.append(HTTPField(name: Self.requestIDHeader, value: requestID))
        response.headers.append(contentsOf: securityHeaders)
        // Every answer may be personal (tokens from login/signup, a customer's data): never cached,
        // unless a route chose its own policy (the JWKS is public and cacheable).
        if response.headers[.cacheControl] == nil {
            response.headers[.cacheControl] = "no-store"
        }
    }
}

/// Header names the gateway reads or writes that HTTPTypes does not define.
enum GatewayHeaders {
    static let apiKey = HTTPField.Name("X-Api-Key")!
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
    static let prefer = HTTPField.Name("Prefer")!
    static let preferenceApplied = HTTPField.Name("Preference-Applied")!
    static let rateLimitLimit = HTTPField.Name("RateLimit-Limit")!
    static let rateLimitRemaining = HTTPField.Name("RateLimit-Remaining")!
    static let rateLimitReset = HTTPField.Name("RateLimit-Reset")!
    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!
    /// The tenant a public route (signup, login, plans …) is for, without credentials.
    static let tenant = HTTPField.Name("Billing-Tenant")!
}
