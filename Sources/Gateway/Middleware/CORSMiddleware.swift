import HTTPTypes
import Hummingbird
import MessageBus

/// CORS from an exact allow-list. Hummingbird's `CORSMiddleware` answers a preflight from any origin
/// with 200 (just without `Access-Control-Allow-Origin`); the edge refuses it with a 403 problem instead.
struct AllowListCORSMiddleware: RouterMiddleware {
    typealias Context = GatewayContext
    let allowedOrigins: Set<String>
    let maxAge: Int

    static let allowMethods = "GET, POST, PATCH, DELETE, OPTIONS"
    static let allowHeaders = "Authorization, Billing-Tenant, Content-Type, Idempotency-Key, Prefer, Request-Id, X-Api-Key"
    static let exposeHeaders =
        "Request-Id, Location, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Idempotent-Replayed"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let origin = request.headers[.origin] else { return try await next(request, context) }
        let allowed = allowedOrigins.contains(origin)
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            context.state.route = "OPTIONS (preflight)"
            guard allowed else {
                throw GatewayError(
                    status: 403, code: "cors_origin_refused", title: "Origin not allowed",
                    detail: "the origin '\(origin)' may not call this API from a browser")
            }
            return Response(
                status: .noContent,
                headers: [
                    .accessControlAllowOrigin: origin, .accessControlAllowMethods: Self.allowMethods,
                    .accessControlAllowHeaders: Self.allowHeaders, .accessControlMaxAge: String(maxAge), .vary: "Origin",
                ])
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            // Render here so a browser can read the error too.
            response = EdgeMiddleware.render(error, requestID: context.state.requestID, logger: context.logger)
        }
        if allowed {
            response.headers[.accessControlAllowOrigin] = origin
            response.headers[.accessControlExposeHeaders] = Self.exposeHeaders
            response.headers[.vary] = "Origin"
        }
        return response
    }
}
