import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MessageBus
import NIOCore
import Redis

/// The HTTP edge (DESIGN §5): a Hummingbird 2 application that turns requests into commands on the
/// streams and replies into responses. One ``ReplyRouter`` per gateway instance, run beside it.
public struct Gateway: Sendable {
    public let configuration: GatewayConfiguration
    public let routes: RouteTable
    public let metrics: GatewayMetrics
    let redis: RedisClient
    let replies: ReplyRouter
    let openAPI: OpenAPIDocument?
    let logger: Logger
    /// One per gateway: its JWKS cache and its verified-token memory serve every request.
    let authenticator: Authenticator

    /// `replies` must be running (as a service) for requests to get answers.
    public init(
        redis: RedisClient, replies: ReplyRouter, configuration: GatewayConfiguration = GatewayConfiguration(),
        routes: RouteTable = .standard, openAPI: OpenAPIDocument?, metrics: GatewayMetrics = GatewayMetrics(),
        logger: Logger = Logger(label: "billing.gateway")
    ) {
        self.redis = redis
        self.replies = replies
        self.configuration = configuration
        self.routes = routes
        self.openAPI = openAPI
        self.metrics = metrics
        self.logger = logger
        self.authenticator = Authenticator(redis: redis, configuration: configuration)
    }

    var endpoint: CommandEndpoint {
        CommandEndpoint(
            configuration: configuration, authenticator: authenticator,
            rateLimiter: RateLimiter(redis: redis, prefix: configuration.names.prefix),
            idempotency: IdempotencyStore(
                redis: redis, prefix: configuration.names.prefix, ttl: configuration.idempotencyTTL,
                claimTTL: configuration.idempotencyClaimTTL),
            bus: CommandBus(redis: redis, names: configuration.names, retention: configuration.streams), replies: replies, openAPI: openAPI, metrics: metrics,
            redis: redis, logger: logger)
    }

    /// The router: edge middleware, then one generic handler per table entry, then the gateway's own routes.
    public func buildRouter() -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self)
        router.add(middleware: EdgeMiddleware(configuration: configuration, metrics: metrics, logger: logger))
        router.add(
            middleware: AllowListCORSMiddleware(
                allowedOrigins: Set(configuration.corsAllowedOrigins), maxAge: configuration.corsMaxAgeSeconds))
        let endpoint = self.endpoint
        for route in routes.routes {
            router.on(RouterPath(route.path), method: route.method) { request, context in
                try await endpoint.handle(route, request, context: context)
            }
        }
        addOwnRoutes(router, endpoint: endpoint)
        return router
    }

    /// The Hummingbird application, to run as a `Service` (with the ``ReplyRouter`` beside it).
    public func buildApplication() -> some ApplicationProtocol {
        Application(
            responder: LoopPinnedResponder(inner: buildRouter().buildResponder()),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "billing"),
            logger: logger)
    }

    private func addOwnRoutes(_ router: Router<GatewayContext>, endpoint: CommandEndpoint) {
        let operations = OperationStore(redis: redis, names: configuration.names)
        router.get("/v1/operations/{id}") { request, context -> Response in
            context.state.route = "GET /v1/operations/{id}"
            let ip = endpoint.clientIP(request, context: context)
            let (verified, headers) = try await endpoint.admit(
                request, context: context, rateClass: .standard, required: true, ip: ip)
            guard let principal = verified else {
                throw GatewayError.unauthorized("this route needs a Bearer token or an API key")
            }
            let id = context.parameters.get("id") ?? ""
            let operation: JSONValue?
            do {
                operation = try await operations.read(id, for: principal)
            } catch {
                throw GatewayError.unavailable("cannot read operations now; retry shortly")
            }
            guard let operation else { throw GatewayError(Problem.notFound("operation \(id)")) }
            return Answer.json(operation, headers: headers).response
        }
        let jwksKey = authenticator.jwksKey
        let redis = self.redis
        router.get("/.well-known/jwks.json") { request, context -> Response in
            context.state.route = "GET /.well-known/jwks.json"
            _ = try await endpoint.rateLimit(.standard, principal: nil, revocation: nil, ip: endpoint.clientIP(request, context: context))
            let data: [UInt8]?
            do {
                data = try await redis.send(GET(jwksKey))
            } catch {
                throw GatewayError.unavailable("cannot read the signing keys now; retry shortly")
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "public, max-age=300"],
                body: .init(byteBuffer: ByteBuffer(bytes: data ?? Array(#"{"keys":[]}"#.utf8))))
        }
        let openAPIJSON = openAPI.map { ByteBuffer(bytes: $0.json) }
        router.get("/openapi.json") { _, context -> Response in
            context.state.route = "GET /openapi.json"
            guard let openAPIJSON else { throw GatewayError(Problem.notFound("the OpenAPI document")) }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: openAPIJSON))
        }
        // Liveness answers the same bytes every time: encoded once.
        let healthy = Answer.json(.object(["status": .string("ok")])).response
        router.get("/healthz") { _, context -> Response in
            context.state.route = "GET /healthz"
            return healthy
        }
        let readiness = Readiness(redis: redis, replies: replies, configuration: configuration)
        router.get("/readyz") { _, context -> Response in
            context.state.route = "GET /readyz"
            let (ready, checks) = await readiness.check()
            return Answer.json(
                .object(["status": .string(ready ? "ready" : "not_ready"), "checks": .object(checks.mapValues(JSONValue.string))]),
                status: ready ? 200 : 503
            ).response
        }
        let metrics = self.metrics
        router.get("/metrics") { _, context -> Response in
            context.state.route = "GET /metrics"
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.render())))
        }
    }
}

/// `/readyz`: Redis answers, this instance's reply loop is reading, and every required consumer
/// group has a process whose heartbeat is recent (``ConsumerHeartbeat``: a consumer busy with a
/// long batch, or blocked on a quiet stream while the machine is loaded, is not taken for dead).
struct Readiness: Sendable {
    let redis: RedisClient
    let replies: ReplyRouter
    let configuration: GatewayConfiguration

    func check() async -> (Bool, [String: String]) {
        var checks: [String: String] = [:]
        var ready = true
        do {
            _ = try await redis.send(PING())
            checks["redis"] = "ok"
        } catch {
            return (false, ["redis": "unreachable"])
        }
        if replies.isReading() {
            checks["replies"] = "ok"
        } else {
            // Without it every synchronous request would time out into a 202.
            checks["replies"] = "reply loop not reading"
            ready = false
        }
        for service in configuration.requiredServices {
            let live = try? await ConsumerHeartbeat.live(
                redis, configuration.names, group: service, within: configuration.consumerLiveness)
            if let live, live > 0 {
                checks["consumers:\(service)"] = "ok"
            } else {
                checks["consumers:\(service)"] = "no live consumer"
                ready = false
            }
        }
        return (ready, checks)
    }
}
