import HTTPTypes
import MessageBus

/// One HTTP route mapped to one command: who may call it, which service runs it, what body it takes.
public struct GatewayRoute: Sendable {
    /// Who may call a route.
    public enum Access: Sendable, Hashable {
        /// No credentials needed (signup, login, token, refresh, listing plans).
        case `public`
        /// A verified principal whose role is listed; a `service` principal also needs every scope listed.
        case authenticated(roles: Set<Principal.Role>, scopes: [String])
    }

    /// Which rate-limit tier applies, and what happens while Redis is down.
    public enum RateClass: String, Sendable, Hashable {
        /// login, signup, token, refresh: the strict per-IP tier; fails closed (503) without Redis.
        case auth
        /// everything else: per principal (or per IP when anonymous or when the credential is refused);
        /// the limiter fails open without Redis (see RateLimiter.swift for what the route then answers).
        case standard
    }

    public var method: HTTPRequest.Method
    /// OpenAPI-style template, e.g. `/v1/customers/{id}`.
    public var path: String
    public var service: String
    public var type: String
    public var access: Access
    public var rateClass: RateClass
    /// `components.schemas` entry of schemas/openapi.yaml the body must match; nil when no body is taken.
    public var requestSchema: String?
    /// An OAuth 2.0 token endpoint (RFC 6749 §3.2): the body may be form-encoded, `Authorization: Basic`
    /// carries the client's credentials (not a principal), and errors are RFC 6749 §5.2 bodies.
    public var oauthTokenEndpoint: Bool

    public init(
        _ method: HTTPRequest.Method, _ path: String, service: String, type: String, access: Access,
        rateClass: RateClass = .standard, requestSchema: String? = nil, oauthTokenEndpoint: Bool = false
    ) {
        self.method = method
        self.path = path
        self.service = service
        self.type = type
        self.access = access
        self.rateClass = rateClass
        self.requestSchema = requestSchema
        self.oauthTokenEndpoint = oauthTokenEndpoint
    }

    /// `POST /v1/customers/{id}`, the route label used in metrics and logs.
    public var label: String { "\(method.rawValue) \(path)" }

    /// Whether `principal` may call this route (role, then scopes for service clients).
    public func permits(_ principal: Principal) -> Bool {
        switch access {
        case .public: return true
        case .authenticated(let roles, let scopes):
            guard roles.contains(principal.role) else { return false }
            if principal.role == .service { return scopes.allSatisfy(principal.scopes.contains) }
            return true
        }
    }
}

/// The routes of DESIGN §5 as data: the gateway registers one generic handler per entry.
public struct RouteTable: Sendable {
    public var routes: [GatewayRoute]

    public init(routes: [GatewayRoute]) { self.routes = routes }

    public mutating func add(_ route: GatewayRoute) { routes.append(route) }

    /// The billing API of DESIGN §5 (operations, JWKS, OpenAPI and health are served by the gateway itself).
    public static let standard: RouteTable = {
        let admin: Set<Principal.Role> = [.admin]
        let adminService: Set<Principal.Role> = [.admin, .service]
        let everyone: Set<Principal.Role> = [.admin, .customer, .service]
        func auth(_ roles: Set<Principal.Role>, _ scopes: String...) -> GatewayRoute.Access {
            .authenticated(roles: roles, scopes: scopes)
        }
        return RouteTable(routes: [
            // auth
            .init(.post, "/v1/auth/signup", service: "auth", type: "auth.signup", access: .public, rateClass: .auth, requestSchema: "SignupRequest"),
            .init(.post, "/v1/auth/login", service: "auth", type: "auth.login", access: .public, rateClass: .auth, requestSchema: "LoginRequest"),
            .init(.post, "/v1/auth/refresh", service: "auth", type: "auth.refresh", access: .public, rateClass: .auth, requestSchema: "RefreshRequest"),
            .init(.post, "/v1/auth/logout", service: "auth", type: "auth.logout", access: auth(everyone), requestSchema: "LogoutRequest"),
            .init(.post, "/v1/auth/verify-email", service: "auth", type: "auth.verify_email", access: .public, rateClass: .auth, requestSchema: "VerifyEmailRequest"),
            .init(.post, "/v1/oauth/token", service: "auth", type: "auth.token", access: .public, rateClass: .auth, requestSchema: "TokenRequest", oauthTokenEndpoint: true),
            .init(.post, "/v1/oauth/clients", service: "auth", type: "oauth_client.create", access: auth(admin), requestSchema: "OAuthClientCreate"),
            .init(.get, "/v1/oauth/clients", service: "auth", type: "oauth_client.list", access: auth(admin)),
            .init(.delete, "/v1/oauth/clients/{id}", service: "auth", type: "oauth_client.delete", access: auth(admin)),
            .init(.post, "/v1/api-keys", service: "auth", type: "api_key.create", access: auth(admin), requestSchema: "ApiKeyCreate"),
            .init(.get, "/v1/api-keys", service: "auth", type: "api_key.list", access: auth(admin)),
            .init(.delete, "/v1/api-keys/{id}", service: "auth", type: "api_key.delete", access: auth(admin)),
            // customers
            .init(.post, "/v1/customers", service: "customer", type: "customer.create", access: auth(adminService, "customers:write"), requestSchema: "CustomerCreate"),
            .init(.get, "/v1/customers", service: "customer", type: "customer.list", access: auth(adminService, "customers:read")),
            .init(.get, "/v1/customers/me", service: "customer", type: "customer.me", access: auth([.customer])),
            .init(.get, "/v1/customers/{id}", service: "customer", type: "customer.get", access: auth(everyone, "customers:read")),
            .init(.patch, "/v1/customers/{id}", service: "customer", type: "customer.update", access: auth(everyone, "customers:write"), requestSchema: "CustomerUpdate"),
            .init(.delete, "/v1/customers/{id}", service: "customer", type: "customer.delete", access: auth(adminService, "customers:write")),
            .init(.get, "/v1/customers/{id}/export", service: "customer", type: "customer.export", access: auth(everyone, "customers:read")),
            .init(.post, "/v1/customers/{id}/suspend", service: "customer", type: "customer.suspend", access: auth(adminService, "customers:write"), requestSchema: "EmptyRequest"),
            .init(.post, "/v1/customers/{id}/reactivate", service: "customer", type: "customer.reactivate", access: auth(adminService, "customers:write"), requestSchema: "EmptyRequest"),
            // plans
            .init(.post, "/v1/plans", service: "plan", type: "plan.create", access: auth(adminService, "plans:write"), requestSchema: "PlanCreate"),
            .init(.get, "/v1/plans", service: "plan", type: "plan.list", access: .public),
            .init(.get, "/v1/plans/{id}", service: "plan", type: "plan.get", access: auth(everyone, "plans:read")),
            .init(.patch, "/v1/plans/{id}", service: "plan", type: "plan.update", access: auth(adminService, "plans:write"), requestSchema: "PlanUpdate"),
            .init(.post, "/v1/plans/{id}/archive", service: "plan", type: "plan.archive", access: auth(adminService, "plans:write"), requestSchema: "EmptyRequest"),
            // subscriptions
            .init(.post, "/v1/subscriptions", service: "subscription", type: "subscription.create", access: auth(everyone, "subscriptions:write"), requestSchema: "SubscriptionCreate"),
            .init(.get, "/v1/subscriptions", service: "subscription", type: "subscription.list", access: auth(everyone, "subscriptions:read")),
            .init(.get, "/v1/subscriptions/{id}", service: "subscription", type: "subscription.get", access: auth(everyone, "subscriptions:read")),
            .init(.patch, "/v1/subscriptions/{id}", service: "subscription", type: "subscription.update", access: auth(everyone, "subscriptions:write"), requestSchema: "SubscriptionUpdate"),
            .init(.post, "/v1/subscriptions/{id}/change-plan", service: "subscription", type: "subscription.change_plan", access: auth(everyone, "subscriptions:write"), requestSchema: "SubscriptionChangePlan"),
            .init(.post, "/v1/subscriptions/{id}/cancel", service: "subscription", type: "subscription.cancel", access: auth(everyone, "subscriptions:write"), requestSchema: "SubscriptionCancel"),
            .init(.post, "/v1/subscriptions/{id}/pause", service: "subscription", type: "subscription.pause", access: auth(everyone, "subscriptions:write"), requestSchema: "EmptyRequest"),
            .init(.post, "/v1/subscriptions/{id}/resume", service: "subscription", type: "subscription.resume", access: auth(everyone, "subscriptions:write"), requestSchema: "EmptyRequest"),
            // invoices
            .init(.get, "/v1/invoices", service: "invoice", type: "invoice.list", access: auth(everyone, "invoices:read")),
            .init(.get, "/v1/invoices/{id}", service: "invoice", type: "invoice.get", access: auth(everyone, "invoices:read")),
            .init(.post, "/v1/invoices/{id}/pay", service: "invoice", type: "invoice.pay", access: auth(everyone, "invoices:write"), requestSchema: "InvoicePay"),
            .init(.post, "/v1/invoices/{id}/void", service: "invoice", type: "invoice.void", access: auth(adminService, "invoices:write"), requestSchema: "EmptyRequest"),
            .init(.post, "/v1/invoices/{id}/mark-uncollectible", service: "invoice", type: "invoice.mark_uncollectible", access: auth(adminService, "invoices:write"), requestSchema: "EmptyRequest"),
            // payment methods
            .init(.post, "/v1/payment-methods", service: "invoice", type: "payment_method.create", access: auth(everyone, "payment_methods:write"), requestSchema: "PaymentMethodCreate"),
            .init(.get, "/v1/payment-methods", service: "invoice", type: "payment_method.list", access: auth(everyone, "payment_methods:read")),
            .init(.delete, "/v1/payment-methods/{id}", service: "invoice", type: "payment_method.delete", access: auth(everyone, "payment_methods:write")),
            // webhooks and events
            .init(.post, "/v1/webhook-endpoints", service: "webhook", type: "webhook_endpoint.create", access: auth(adminService, "webhooks:write"), requestSchema: "WebhookEndpointCreate"),
            .init(.get, "/v1/webhook-endpoints", service: "webhook", type: "webhook_endpoint.list", access: auth(adminService, "webhooks:read")),
            .init(.delete, "/v1/webhook-endpoints/{id}", service: "webhook", type: "webhook_endpoint.delete", access: auth(adminService, "webhooks:write")),
            .init(.get, "/v1/webhook-endpoints/{id}", service: "webhook", type: "webhook_endpoint.get", access: auth(adminService, "webhooks:read")),
            .init(.post, "/v1/webhook-endpoints/{id}/disable", service: "webhook", type: "webhook_endpoint.disable", access: auth(adminService, "webhooks:write"), requestSchema: "EmptyRequest"),
            .init(.post, "/v1/webhook-endpoints/{id}/enable", service: "webhook", type: "webhook_endpoint.enable", access: auth(adminService, "webhooks:write"), requestSchema: "EmptyRequest"),
            .init(.post, "/v1/webhook-endpoints/{id}/redeliver", service: "webhook", type: "webhook_endpoint.redeliver", access: auth(adminService, "webhooks:write"), requestSchema: "WebhookRedeliver"),
            .init(.get, "/v1/webhook-endpoints/{id}/deliveries", service: "webhook", type: "webhook_delivery.list", access: auth(adminService, "webhooks:read")),
            // A customer sees the events about itself (the webhook service scopes them).
            .init(.get, "/v1/events", service: "webhook", type: "event.list", access: auth(everyone, "events:read")),
            .init(.get, "/v1/events/{id}", service: "webhook", type: "event.get", access: auth(everyone, "events:read")),
            // test clocks
            .init(.post, "/v1/test-clocks", service: "subscription", type: "test_clock.create", access: auth(admin), requestSchema: "TestClockCreate"),
            .init(.get, "/v1/test-clocks/{id}", service: "subscription", type: "test_clock.get", access: auth(admin)),
            .init(.post, "/v1/test-clocks/{id}/advance", service: "subscription", type: "test_clock.advance", access: auth(admin), requestSchema: "TestClockAdvance"),
            // admin
            .init(.get, "/v1/admin/streams", service: "webhook", type: "admin.streams", access: auth(admin)),
            .init(.get, "/v1/admin/dead-letters", service: "webhook", type: "admin.dead_letters", access: auth(admin)),
            .init(.post, "/v1/admin/dead-letters/{id}/retry", service: "webhook", type: "admin.dead_letter_retry", access: auth(admin), requestSchema: "EmptyRequest"),
        ])
    }()
}
