import Contracts
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

    public init<C: BusCommand>(
        _ method: HTTPRequest.Method, _ path: String, _ command: C.Type, access: Access,
        rateClass: RateClass = .standard, requestSchema: String? = nil, oauthTokenEndpoint: Bool = false
    ) {
        self.method = method
        self.path = path
        self.service = C.service
        self.type = C.name
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
            .init(.post, "/v1/auth/signup", Commands.AuthSignup.self, access: .public, rateClass: .auth, requestSchema: "SignupRequest"),
            .init(.post, "/v1/auth/login", Commands.AuthLogin.self, access: .public, rateClass: .auth, requestSchema: "LoginRequest"),
            .init(.post, "/v1/auth/refresh", Commands.AuthRefresh.self, access: .public, rateClass: .auth, requestSchema: "RefreshRequest"),
            .init(.post, "/v1/auth/logout", Commands.AuthLogout.self, access: auth(everyone), requestSchema: "LogoutRequest"),
            .init(.post, "/v1/auth/verify-email", Commands.AuthVerifyEmail.self, access: .public, rateClass: .auth, requestSchema: "VerifyEmailRequest"),
            .init(.post, "/v1/oauth/token", Commands.AuthToken.self, access: .public, rateClass: .auth, requestSchema: "TokenRequest", oauthTokenEndpoint: true),
            .init(.post, "/v1/oauth/clients", Commands.OauthClientCreate.self, access: auth(admin), requestSchema: "OAuthClientCreate"),
            .init(.get, "/v1/oauth/clients", Commands.OauthClientList.self, access: auth(admin)),
            .init(.delete, "/v1/oauth/clients/{id}", Commands.OauthClientDelete.self, access: auth(admin)),
            .init(.post, "/v1/api-keys", Commands.ApiKeyCreate.self, access: auth(admin), requestSchema: "ApiKeyCreate"),
            .init(.get, "/v1/api-keys", Commands.ApiKeyList.self, access: auth(admin)),
            .init(.delete, "/v1/api-keys/{id}", Commands.ApiKeyDelete.self, access: auth(admin)),
            // customers
            .init(.post, "/v1/customers", Commands.CustomerCreate.self, access: auth(adminService, "customers:write"), requestSchema: "CustomerCreate"),
            .init(.get, "/v1/customers", Commands.CustomerList.self, access: auth(adminService, "customers:read")),
            .init(.get, "/v1/customers/me", Commands.CustomerMe.self, access: auth([.customer])),
            .init(.get, "/v1/customers/{id}", Commands.CustomerGet.self, access: auth(everyone, "customers:read")),
            .init(.patch, "/v1/customers/{id}", Commands.CustomerUpdate.self, access: auth(everyone, "customers:write"), requestSchema: "CustomerUpdate"),
            .init(.delete, "/v1/customers/{id}", Commands.CustomerDelete.self, access: auth(adminService, "customers:write")),
            .init(.get, "/v1/customers/{id}/export", Commands.CustomerExport.self, access: auth(everyone, "customers:read")),
            .init(.post, "/v1/customers/{id}/suspend", Commands.CustomerSuspend.self, access: auth(adminService, "customers:write"), requestSchema: "EmptyRequest"),
            .init(.post, "/v1/customers/{id}/reactivate", Commands.CustomerReactivate.self, access: auth(adminService, "customers:write"), requestSchema: "EmptyRequest"),
            // coupons and tax rates
            .init(.post, "/v1/coupons", Commands.CouponCreate.self, access: auth(adminService, "coupons:write"), requestSchema: "CouponCreate"),
            .init(.get, "/v1/coupons", Commands.CouponList.self, access: auth(adminService, "coupons:read")),
            .init(.get, "/v1/coupons/{id}", Commands.CouponGet.self, access: auth(adminService, "coupons:read")),
            .init(.delete, "/v1/coupons/{id}", Commands.CouponDelete.self, access: auth(adminService, "coupons:write")),
            .init(.post, "/v1/tax-rates", Commands.TaxRateCreate.self, access: auth(adminService, "tax_rates:write"), requestSchema: "TaxRateCreate"),
            .init(.get, "/v1/tax-rates", Commands.TaxRateList.self, access: auth(adminService, "tax_rates:read")),
            .init(.get, "/v1/tax-rates/{id}", Commands.TaxRateGet.self, access: auth(adminService, "tax_rates:read")),
            .init(.patch, "/v1/tax-rates/{id}", Commands.TaxRateUpdate.self, access: auth(adminService, "tax_rates:write"), requestSchema: "TaxRateUpdate"),
            // credit notes
            .init(.post, "/v1/credit-notes", Commands.CreditNoteCreate.self, access: auth(adminService, "credit_notes:write"), requestSchema: "CreditNoteCreate"),
            .init(.get, "/v1/credit-notes", Commands.CreditNoteList.self, access: auth(everyone, "credit_notes:read")),
            .init(.get, "/v1/credit-notes/{id}", Commands.CreditNoteGet.self, access: auth(everyone, "credit_notes:read")),
            .init(.post, "/v1/credit-notes/{id}/void", Commands.CreditNoteVoid.self, access: auth(adminService, "credit_notes:write"), requestSchema: "EmptyRequest"),
            // tenants
            .init(.post, "/v1/tenants", Commands.TenantCreate.self, access: auth(admin), requestSchema: "TenantCreate"),
            .init(.get, "/v1/tenant", Commands.TenantGet.self, access: auth(everyone, "tenant:read")),
            .init(.patch, "/v1/tenant", Commands.TenantUpdate.self, access: auth(admin), requestSchema: "TenantUpdate"),
            // plans
            .init(.post, "/v1/plans", Commands.PlanCreate.self, access: auth(adminService, "plans:write"), requestSchema: "PlanCreate"),
            .init(.get, "/v1/plans", Commands.PlanList.self, access: .public),
            .init(.get, "/v1/plans/{id}", Commands.PlanGet.self, access: auth(everyone, "plans:read")),
            .init(.patch, "/v1/plans/{id}", Commands.PlanUpdate.self, access: auth(adminService, "plans:write"), requestSchema: "PlanUpdate"),
            .init(.post, "/v1/plans/{id}/archive", Commands.PlanArchive.self, access: auth(adminService, "plans:write"), requestSchema: "EmptyRequest"),
            // subscriptions
            .init(.post, "/v1/subscriptions", Commands.SubscriptionCreate.self, access: auth(everyone, "subscriptions:write"), requestSchema: "SubscriptionCreate"),
            .init(.get, "/v1/subscriptions", Commands.SubscriptionList.self, access: auth(everyone, "subscriptions:read")),
            .init(.get, "/v1/subscriptions/{id}", Commands.SubscriptionGet.self, access: auth(everyone, "subscriptions:read")),
            .init(.patch, "/v1/subscriptions/{id}", Commands.SubscriptionUpdate.self, access: auth(everyone, "subscriptions:write"), requestSchema: "SubscriptionUpdate"),
            .init(.post, "/v1/subscriptions/{id}/change-plan", Commands.SubscriptionChangePlan.self, access: auth(everyone, "subscriptions:write"), requestSchema: "SubscriptionChangePlan"),
            .init(.post, "/v1/subscriptions/{id}/cancel", Commands.SubscriptionCancel.self, access: auth(everyone, "subscriptions:write"), requestSchema: "SubscriptionCancel"),
            .init(.post, "/v1/subscriptions/{id}/pause", Commands.SubscriptionPause.self, access: auth(everyone, "subscriptions:write"), requestSchema: "EmptyRequest"),
            .init(.post, "/v1/subscriptions/{id}/resume", Commands.SubscriptionResume.self, access: auth(everyone, "subscriptions:write"), requestSchema: "EmptyRequest"),
            // invoices
            .init(.post, "/v1/invoices", Commands.InvoiceCreate.self, access: auth(adminService, "invoices:write"), requestSchema: "InvoiceCreate"),
            .init(.post, "/v1/invoices/{id}/finalize", Commands.InvoiceFinalize.self, access: auth(adminService, "invoices:write"), requestSchema: "EmptyRequest"),
            .init(.post, "/v1/invoice-items", Commands.InvoiceItemCreate.self, access: auth(adminService, "invoices:write"), requestSchema: "InvoiceItemCreate"),
            .init(.get, "/v1/invoice-items", Commands.InvoiceItemList.self, access: auth(everyone, "invoices:read")),
            .init(.delete, "/v1/invoice-items/{id}", Commands.InvoiceItemDelete.self, access: auth(adminService, "invoices:write")),
            .init(.get, "/v1/invoices", Commands.InvoiceList.self, access: auth(everyone, "invoices:read")),
            .init(.get, "/v1/invoices/upcoming", Commands.InvoiceUpcoming.self, access: auth(everyone, "invoices:read")),
            .init(.get, "/v1/invoices/{id}", Commands.InvoiceGet.self, access: auth(everyone, "invoices:read")),
            .init(.post, "/v1/invoices/{id}/pay", Commands.InvoicePay.self, access: auth(everyone, "invoices:write"), requestSchema: "InvoicePay"),
            .init(.post, "/v1/invoices/{id}/void", Commands.InvoiceVoid.self, access: auth(adminService, "invoices:write"), requestSchema: "EmptyRequest"),
            .init(.post, "/v1/invoices/{id}/mark-uncollectible", Commands.InvoiceMarkUncollectible.self, access: auth(adminService, "invoices:write"), requestSchema: "EmptyRequest"),
            // payment methods
            .init(.post, "/v1/payment-methods", Commands.PaymentMethodCreate.self, access: auth(everyone, "payment_methods:write"), requestSchema: "PaymentMethodCreate"),
            .init(.get, "/v1/payment-methods", Commands.PaymentMethodList.self, access: auth(everyone, "payment_methods:read")),
            .init(.delete, "/v1/payment-methods/{id}", Commands.PaymentMethodDelete.self, access: auth(everyone, "payment_methods:write")),
            // webhooks and events
            .init(.post, "/v1/webhook-endpoints", Commands.WebhookEndpointCreate.self, access: auth(adminService, "webhooks:write"), requestSchema: "WebhookEndpointCreate"),
            .init(.get, "/v1/webhook-endpoints", Commands.WebhookEndpointList.self, access: auth(adminService, "webhooks:read")),
            .init(.delete, "/v1/webhook-endpoints/{id}", Commands.WebhookEndpointDelete.self, access: auth(adminService, "webhooks:write")),
            .init(.get, "/v1/webhook-endpoints/{id}", Commands.WebhookEndpointGet.self, access: auth(adminService, "webhooks:read")),
            .init(.post, "/v1/webhook-endpoints/{id}/disable", Commands.WebhookEndpointDisable.self, access: auth(adminService, "webhooks:write"), requestSchema: "EmptyRequest"),
            .init(.post, "/v1/webhook-endpoints/{id}/enable", Commands.WebhookEndpointEnable.self, access: auth(adminService, "webhooks:write"), requestSchema: "EmptyRequest"),
            .init(.post, "/v1/webhook-endpoints/{id}/redeliver", Commands.WebhookEndpointRedeliver.self, access: auth(adminService, "webhooks:write"), requestSchema: "WebhookRedeliver"),
            .init(.get, "/v1/webhook-endpoints/{id}/deliveries", Commands.WebhookDeliveryList.self, access: auth(adminService, "webhooks:read")),
            // A customer sees the events about itself (the webhook service scopes them).
            .init(.get, "/v1/events", Commands.EventList.self, access: auth(everyone, "events:read")),
            .init(.get, "/v1/events/{id}", Commands.EventGet.self, access: auth(everyone, "events:read")),
            // test clocks
            .init(.post, "/v1/test-clocks", Commands.TestClockCreate.self, access: auth(admin), requestSchema: "TestClockCreate"),
            .init(.get, "/v1/test-clocks/{id}", Commands.TestClockGet.self, access: auth(admin)),
            .init(.post, "/v1/test-clocks/{id}/advance", Commands.TestClockAdvance.self, access: auth(admin), requestSchema: "TestClockAdvance"),
            // admin
            .init(.get, "/v1/admin/streams", Commands.AdminStreams.self, access: auth(admin)),
            .init(.get, "/v1/admin/dead-letters", Commands.AdminDeadLetters.self, access: auth(admin)),
            .init(.post, "/v1/admin/dead-letters/{id}/retry", Commands.AdminDeadLetterRetry.self, access: auth(admin), requestSchema: "EmptyRequest"),
        ])
    }()
}
