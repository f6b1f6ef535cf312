import MessageBus

// Generated from schemas/commands (the contract) by hand-checked mapping to services (the `notify`
// service's consumer comes with the notifications issue; its commands wait in billing:cmd:notify); the test
// CommandCatalogTests keeps the two in agreement. Routes and handlers name these types, not strings.
// Each names what its handler answers (`Response`, in Responses/; schemas/openapi.yaml is its
// contract, kept in agreement by ResponseContractTests) and, in Payloads/, what its payload decodes to.

/// The commands of the bus, one type each (`Commands.CustomerCreate`, …).
public enum Commands {
    /// `admin.dead_letter_retry` (webhook): Puts one dead letter (id <service>:<entry time in hex>_<sequence>, as the dead-letter list gives it) back on its service's command stream.
    public enum AdminDeadLetterRetry: BusCommand {
        public static let name = "admin.dead_letter_retry"
        public static let service = "webhook"
        public typealias Response = DeadLetterRetried
    }

    /// `admin.dead_letters` (webhook): The dead letters of every service whose envelope names the admin's tenant (unreadable ones: the default tenant's admins), without the envelope text.
    public enum AdminDeadLetters: BusCommand {
        public static let name = "admin.dead_letters"
        public static let service = "webhook"
        public typealias Response = ItemList<DeadLetterReport>
    }

    /// `admin.streams` (webhook): Length, groups (lag, pending, oldest pending age, consumers) and dead-letter count of every service's command stream and of the events stream.
    public enum AdminStreams: BusCommand {
        public static let name = "admin.streams"
        public static let service = "webhook"
        public typealias Response = ItemList<StreamReport>
    }

    /// `api_key.create` (auth): POST /v1/api-keys: Create an API key (shown once).
    public enum ApiKeyCreate: BusCommand {
        public static let name = "api_key.create"
        public static let service = "auth"
        public typealias Response = APIKey
    }

    /// `api_key.delete` (auth): DELETE /v1/api-keys/{id}: Revoke an API key.
    public enum ApiKeyDelete: BusCommand {
        public static let name = "api_key.delete"
        public static let service = "auth"
        public typealias Response = NoContent
    }

    /// `api_key.list` (auth): GET /v1/api-keys: List API keys.
    public enum ApiKeyList: BusCommand {
        public static let name = "api_key.list"
        public static let service = "auth"
        public typealias Response = Page<APIKey>
    }

    /// `auth.login` (auth): POST /v1/auth/login: Exchange email and password for tokens.
    public enum AuthLogin: BusCommand {
        public static let name = "auth.login"
        public static let service = "auth"
        public static let secretFields = ["password"]
        public typealias Response = TokenResponse
    }

    /// `auth.logout` (auth): POST /v1/auth/logout: Revoke the current tokens.
    public enum AuthLogout: BusCommand {
        public static let name = "auth.logout"
        public static let service = "auth"
        public static let secretFields = ["refresh_token"]
        public typealias Response = NoContent
    }

    /// `auth.refresh` (auth): POST /v1/auth/refresh: Rotate a refresh token.
    public enum AuthRefresh: BusCommand {
        public static let name = "auth.refresh"
        public static let service = "auth"
        public static let secretFields = ["refresh_token"]
        public typealias Response = TokenResponse
    }

    /// `auth.signup` (auth): POST /v1/auth/signup: Create a user and its customer.
    public enum AuthSignup: BusCommand {
        public static let name = "auth.signup"
        public static let service = "auth"
        public static let secretFields = ["password"]
        public typealias Response = TokenResponse
    }

    /// `auth.token` (auth): POST /v1/oauth/token: OAuth2 token endpoint (client_credentials, refresh_token).
    public enum AuthToken: BusCommand {
        public static let name = "auth.token"
        public static let service = "auth"
        public static let secretFields = ["client_secret", "refresh_token"]
        public typealias Response = TokenResponse
    }

    /// `auth.verify_email` (auth): POST /v1/auth/verify-email: Confirm an email address.
    public enum AuthVerifyEmail: BusCommand {
        public static let name = "auth.verify_email"
        public static let service = "auth"
        public static let secretFields = ["token"]
        public typealias Response = EmailVerified
    }

    /// `customer.create` (customer): Create a customer (admin, service with customers:write; the auth worker as system, which alone may send id and user_id).
    public enum CustomerCreate: BusCommand {
        public static let name = "customer.create"
        public static let service = "customer"
        public typealias Response = Customer
    }

    /// `coupon.create` (invoice): Create a coupon (admin, service with coupons:write).
    public enum CouponCreate: BusCommand {
        public static let name = "coupon.create"
        public static let service = "invoice"
        public typealias Response = Coupon
    }

    /// `coupon.delete` (invoice): Delete a coupon: no new redemptions; discounts already applied continue.
    public enum CouponDelete: BusCommand {
        public static let name = "coupon.delete"
        public static let service = "invoice"
        public typealias Response = Coupon
    }

    /// `coupon.get` (invoice): One coupon of the tenant, with times_redeemed.
    public enum CouponGet: BusCommand {
        public static let name = "coupon.get"
        public static let service = "invoice"
        public typealias Response = Coupon
    }

    /// `coupon.list` (invoice): The tenant's coupons not deleted, newest first.
    public enum CouponList: BusCommand {
        public static let name = "coupon.list"
        public static let service = "invoice"
        public typealias Response = Page<Coupon>
    }

    /// `tax_rate.create` (invoice): Create a tax rate (admin, service with tax_rates:write).
    public enum TaxRateCreate: BusCommand {
        public static let name = "tax_rate.create"
        public static let service = "invoice"
        public typealias Response = TaxRateResource
    }

    /// `tax_rate.get` (invoice): One tax rate of the tenant.
    public enum TaxRateGet: BusCommand {
        public static let name = "tax_rate.get"
        public static let service = "invoice"
        public typealias Response = TaxRateResource
    }

    /// `tax_rate.list` (invoice): The tenant's tax rates, newest first.
    public enum TaxRateList: BusCommand {
        public static let name = "tax_rate.list"
        public static let service = "invoice"
        public typealias Response = Page<TaxRateResource>
    }

    /// `tax_rate.update` (invoice): Change a tax rate's display name, description, metadata or active flag.
    public enum TaxRateUpdate: BusCommand {
        public static let name = "tax_rate.update"
        public static let service = "invoice"
        public typealias Response = TaxRateResource
    }

    /// `credit_note.create` (invoice): Issue a credit note on an invoice: lowers what an unpaid one owes, refunds a paid one or credits the customer's balance.
    public enum CreditNoteCreate: BusCommand {
        public static let name = "credit_note.create"
        public static let service = "invoice"
        public typealias Response = CreditNote
    }

    /// `credit_note.get` (invoice): One credit note (a customer sees its own).
    public enum CreditNoteGet: BusCommand {
        public static let name = "credit_note.get"
        public static let service = "invoice"
        public typealias Response = CreditNote
    }

    /// `credit_note.list` (invoice): Credit notes, newest first (a customer sees its own).
    public enum CreditNoteList: BusCommand {
        public static let name = "credit_note.list"
        public static let service = "invoice"
        public typealias Response = Page<CreditNote>
    }

    /// `credit_note.void` (invoice): Void a credit note: its amount is due again or leaves the customer's balance.
    public enum CreditNoteVoid: BusCommand {
        public static let name = "credit_note.void"
        public static let service = "invoice"
        public typealias Response = CreditNote
    }

    /// `invoice.upcoming` (invoice): The next invoice of a subscription, or the one a change to `plan` would make now; changes nothing.
    public enum InvoiceUpcoming: BusCommand {
        public static let name = "invoice.upcoming"
        public static let service = "invoice"
        public typealias Response = UpcomingInvoice
    }

    /// `invoice.create` (invoice): A draft invoice for a customer from its pending invoice items in a currency (not tied to a subscription).
    public enum InvoiceCreate: BusCommand {
        public static let name = "invoice.create"
        public static let service = "invoice"
        public typealias Response = Invoice
    }

    /// `invoice.finalize` (invoice): Finalise a draft: number, credit applied, due by its terms, charged unless sent.
    public enum InvoiceFinalize: BusCommand {
        public static let name = "invoice.finalize"
        public static let service = "invoice"
        public typealias Response = Invoice
    }

    /// `invoice_item.create` (invoice): A one-off charge (or credit) pending until the customer's next invoice.
    public enum InvoiceItemCreate: BusCommand {
        public static let name = "invoice_item.create"
        public static let service = "invoice"
        public typealias Response = InvoiceItem
    }

    /// `invoice_item.delete` (invoice): Delete a pending invoice item.
    public enum InvoiceItemDelete: BusCommand {
        public static let name = "invoice_item.delete"
        public static let service = "invoice"
        public typealias Response = InvoiceItem
    }

    /// `invoice_item.list` (invoice): Invoice items, newest first (a customer sees its own).
    public enum InvoiceItemList: BusCommand {
        public static let name = "invoice_item.list"
        public static let service = "invoice"
        public typealias Response = Page<InvoiceItem>
    }

    /// `tenant.create` (invoice): Create a tenant (the platform operator: an admin of the default tenant).
    public enum TenantCreate: BusCommand {
        public static let name = "tenant.create"
        public static let service = "invoice"
        public typealias Response = Tenant
    }

    /// `tenant.get` (invoice): The caller's tenant and its settings (any principal of it).
    public enum TenantGet: BusCommand {
        public static let name = "tenant.get"
        public static let service = "invoice"
        public typealias Response = Tenant
    }

    /// `tenant.update` (invoice): Change the caller's tenant settings (its admins): name, address, tax ID, default currency, invoice prefix.
    public enum TenantUpdate: BusCommand {
        public static let name = "tenant.update"
        public static let service = "invoice"
        public typealias Response = Tenant
    }

    /// `customer.delete` (customer): GDPR erasure: personal data replaced, status deleted, running subscriptions canceled (subscription.cancel commands), invoices anonymised, stored replies redacted; emits customer.deleted.
    public enum CustomerDelete: BusCommand {
        public static let name = "customer.delete"
        public static let service = "customer"
        public typealias Response = Customer
    }

    /// `customer.export` (customer): Everything held about the customer as one JSON document (customer, subscriptions, invoices, payment methods).
    public enum CustomerExport: BusCommand {
        public static let name = "customer.export"
        public static let service = "customer"
        public typealias Response = Contracts.CustomerExport
    }

    /// `customer.get` (customer): One customer (a customer principal: only itself, anything else 404).
    public enum CustomerGet: BusCommand {
        public static let name = "customer.get"
        public static let service = "customer"
        public typealias Response = Customer
    }

    /// `customer.list` (customer): Customers of the tenant, newest first (a customer principal lists only itself).
    public enum CustomerList: BusCommand {
        public static let name = "customer.list"
        public static let service = "customer"
        public typealias Response = Page<Customer>
    }

    /// `customer.me` (customer): The customer of a customer principal (404 for other roles).
    public enum CustomerMe: BusCommand {
        public static let name = "customer.me"
        public static let service = "customer"
        public typealias Response = Customer
    }

    /// `customer.reactivate` (customer): suspended → active (admin, service, system).
    public enum CustomerReactivate: BusCommand {
        public static let name = "customer.reactivate"
        public static let service = "customer"
        public typealias Response = Customer
    }

    /// `customer.suspend` (customer): active → suspended (admin, service, system).
    public enum CustomerSuspend: BusCommand {
        public static let name = "customer.suspend"
        public static let service = "customer"
        public typealias Response = Customer
    }

    /// `customer.update` (customer): Change name, email or metadata (metadata merged; an empty value removes its key).
    public enum CustomerUpdate: BusCommand {
        public static let name = "customer.update"
        public static let service = "customer"
        public typealias Response = Customer
    }

    /// `event.get` (webhook): One event of the tenant (a customer: only about itself).
    public enum EventGet: BusCommand {
        public static let name = "event.get"
        public static let service = "webhook"
        public typealias Response = Event
    }

    /// `event.list` (webhook): The tenant's events, newest first; a customer sees only events about itself.
    public enum EventList: BusCommand {
        public static let name = "event.list"
        public static let service = "webhook"
        public typealias Response = Page<Event>
    }

    /// `invoice.get` (invoice): GET /v1/invoices/{id}: Get an invoice.
    public enum InvoiceGet: BusCommand {
        public static let name = "invoice.get"
        public static let service = "invoice"
        public typealias Response = Invoice
    }

    /// `invoice.list` (invoice): GET /v1/invoices: List invoices.
    public enum InvoiceList: BusCommand {
        public static let name = "invoice.list"
        public static let service = "invoice"
        public typealias Response = Page<Invoice>
    }

    /// `invoice.mark_uncollectible` (invoice): POST /v1/invoices/{id}/mark-uncollectible: Mark an invoice uncollectible.
    public enum InvoiceMarkUncollectible: BusCommand {
        public static let name = "invoice.mark_uncollectible"
        public static let service = "invoice"
        public typealias Response = Invoice
    }

    /// `invoice.pay` (invoice): POST /v1/invoices/{id}/pay: Pay an open invoice.
    public enum InvoicePay: BusCommand {
        public static let name = "invoice.pay"
        public static let service = "invoice"
        public typealias Response = Invoice
    }

    /// `invoice.retry_payment` (invoice): Sent by the scheduler: a dunning retry; principal role system; id <action>_<object>_<due unix time>.
    public enum InvoiceRetryPayment: BusCommand {
        public static let name = "invoice.retry_payment"
        public static let service = "invoice"
        public typealias Response = ScheduledWorkOutcome
    }

    /// `invoice.void` (invoice): POST /v1/invoices/{id}/void: Void an open invoice.
    public enum InvoiceVoid: BusCommand {
        public static let name = "invoice.void"
        public static let service = "invoice"
        public typealias Response = Invoice
    }

    /// `notify.email_verification` (notify): Sent by the auth worker through its outbox at signup: email this single-use verification token to the user (the token's private path, never billing:events).
    public enum NotifyEmailVerification: BusCommand {
        public static let name = "notify.email_verification"
        public static let service = "notify"
        public static let secretFields = ["verification_token"]
        /// Its consumer comes with the notifications issue; nobody reads what it answers the auth worker's send.
        public typealias Response = NoContent
    }

    /// `oauth_client.create` (auth): POST /v1/oauth/clients: Create an OAuth client (secret shown once).
    public enum OauthClientCreate: BusCommand {
        public static let name = "oauth_client.create"
        public static let service = "auth"
        public typealias Response = OAuthClient
    }

    /// `oauth_client.delete` (auth): DELETE /v1/oauth/clients/{id}: Delete an OAuth client.
    public enum OauthClientDelete: BusCommand {
        public static let name = "oauth_client.delete"
        public static let service = "auth"
        public typealias Response = NoContent
    }

    /// `oauth_client.list` (auth): GET /v1/oauth/clients: List OAuth clients.
    public enum OauthClientList: BusCommand {
        public static let name = "oauth_client.list"
        public static let service = "auth"
        public typealias Response = Page<OAuthClient>
    }

    /// `payment_method.create` (invoice): POST /v1/payment-methods: Attach a payment method.
    public enum PaymentMethodCreate: BusCommand {
        public static let name = "payment_method.create"
        public static let service = "invoice"
        public typealias Response = PaymentMethod
    }

    /// `payment_method.delete` (invoice): DELETE /v1/payment-methods/{id}: Detach a payment method.
    public enum PaymentMethodDelete: BusCommand {
        public static let name = "payment_method.delete"
        public static let service = "invoice"
        public typealias Response = NoContent
    }

    /// `payment_method.list` (invoice): GET /v1/payment-methods: List payment methods.
    public enum PaymentMethodList: BusCommand {
        public static let name = "payment_method.list"
        public static let service = "invoice"
        public typealias Response = Page<PaymentMethod>
    }

    /// `plan.archive` (plan): No new subscriptions from now on; existing ones continue.
    public enum PlanArchive: BusCommand {
        public static let name = "plan.archive"
        public static let service = "plan"
        public typealias Response = Plan
    }

    /// `plan.create` (plan): Create a plan (admin, service with plans:write, system).
    public enum PlanCreate: BusCommand {
        public static let name = "plan.create"
        public static let service = "plan"
        public typealias Response = Plan
    }

    /// `plan.get` (plan): One plan of the tenant (any principal of the tenant).
    public enum PlanGet: BusCommand {
        public static let name = "plan.get"
        public static let service = "plan"
        public typealias Response = Plan
    }

    /// `plan.list` (plan): Active plans of the tenant, newest first; no login needed.
    public enum PlanList: BusCommand {
        public static let name = "plan.list"
        public static let service = "plan"
        public typealias Response = Page<Plan>
    }

    /// `plan.update` (plan): Change a plan.
    public enum PlanUpdate: BusCommand {
        public static let name = "plan.update"
        public static let service = "plan"
        public typealias Response = Plan
    }

    /// `subscription.cancel` (subscription): POST /v1/subscriptions/{id}/cancel: Cancel now or at period end.
    public enum SubscriptionCancel: BusCommand {
        public static let name = "subscription.cancel"
        public static let service = "subscription"
        public typealias Response = Subscription
    }

    /// `subscription.change_plan` (subscription): POST /v1/subscriptions/{id}/change-plan: Change plan with proration.
    public enum SubscriptionChangePlan: BusCommand {
        public static let name = "subscription.change_plan"
        public static let service = "subscription"
        public typealias Response = Subscription
    }

    /// `subscription.create` (subscription): POST /v1/subscriptions: Subscribe a customer to a plan.
    public enum SubscriptionCreate: BusCommand {
        public static let name = "subscription.create"
        public static let service = "subscription"
        public typealias Response = Subscription
    }

    /// `subscription.end_trial` (subscription): Sent by the scheduler: the trial is over; the first period is invoiced; principal role system; id <action>_<object>_<due unix time>.
    public enum SubscriptionEndTrial: BusCommand {
        public static let name = "subscription.end_trial"
        public static let service = "subscription"
        public typealias Response = ScheduledWorkOutcome
    }

    /// `subscription.expire_incomplete` (subscription): Sent by the scheduler: a first payment not made within 23 h; principal role system; id <action>_<object>_<due unix time>.
    public enum SubscriptionExpireIncomplete: BusCommand {
        public static let name = "subscription.expire_incomplete"
        public static let service = "subscription"
        public typealias Response = ScheduledWorkOutcome
    }

    /// `subscription.get` (subscription): GET /v1/subscriptions/{id}: Get a subscription.
    public enum SubscriptionGet: BusCommand {
        public static let name = "subscription.get"
        public static let service = "subscription"
        public typealias Response = Subscription
    }

    /// `subscription.list` (subscription): GET /v1/subscriptions: List subscriptions.
    public enum SubscriptionList: BusCommand {
        public static let name = "subscription.list"
        public static let service = "subscription"
        public typealias Response = Page<Subscription>
    }

    /// `subscription.notice_trial_end` (subscription): Sent by the scheduler: raise subscription.trial_will_end; principal role system; id <action>_<object>_<due unix time>.
    public enum SubscriptionNoticeTrialEnd: BusCommand {
        public static let name = "subscription.notice_trial_end"
        public static let service = "subscription"
        public typealias Response = ScheduledWorkOutcome
    }

    /// `subscription.pause` (subscription): POST /v1/subscriptions/{id}/pause: Pause invoicing.
    public enum SubscriptionPause: BusCommand {
        public static let name = "subscription.pause"
        public static let service = "subscription"
        public typealias Response = Subscription
    }

    /// `subscription.renew` (subscription): Sent by the scheduler: start the next period (or end a subscription set to cancel at period end); principal role system; id <action>_<object>_<due unix time>.
    public enum SubscriptionRenew: BusCommand {
        public static let name = "subscription.renew"
        public static let service = "subscription"
        public typealias Response = ScheduledWorkOutcome
    }

    /// `subscription.resume` (subscription): POST /v1/subscriptions/{id}/resume: Resume with a new period.
    public enum SubscriptionResume: BusCommand {
        public static let name = "subscription.resume"
        public static let service = "subscription"
        public typealias Response = Subscription
    }

    /// `subscription.update` (subscription): PATCH /v1/subscriptions/{id}: Update payment method or metadata.
    public enum SubscriptionUpdate: BusCommand {
        public static let name = "subscription.update"
        public static let service = "subscription"
        public typealias Response = Subscription
    }

    /// `test_clock.advance` (subscription): POST /v1/test-clocks/{id}/advance: Advance a test clock.
    public enum TestClockAdvance: BusCommand {
        public static let name = "test_clock.advance"
        public static let service = "subscription"
        public typealias Response = TestClock
    }

    /// `test_clock.create` (subscription): POST /v1/test-clocks: Create a test clock.
    public enum TestClockCreate: BusCommand {
        public static let name = "test_clock.create"
        public static let service = "subscription"
        public typealias Response = TestClock
    }

    /// `test_clock.get` (subscription): GET /v1/test-clocks/{id}: Get a test clock.
    public enum TestClockGet: BusCommand {
        public static let name = "test_clock.get"
        public static let service = "subscription"
        public typealias Response = TestClock
    }

    /// `webhook_delivery.list` (webhook): An endpoint's delivery log (every attempt: time, status, latency, start of the response).
    public enum WebhookDeliveryList: BusCommand {
        public static let name = "webhook_delivery.list"
        public static let service = "webhook"
        public typealias Response = Page<WebhookDelivery>
    }

    /// `webhook_endpoint.create` (webhook): Creates a webhook endpoint for the principal's tenant; its signing secret (whsec_…) is in the reply once and never stored in the clear.
    public enum WebhookEndpointCreate: BusCommand {
        public static let name = "webhook_endpoint.create"
        public static let service = "webhook"
        public typealias Response = WebhookEndpoint
    }

    /// `webhook_endpoint.delete` (webhook): Deletes an endpoint; its pending deliveries are canceled.
    public enum WebhookEndpointDelete: BusCommand {
        public static let name = "webhook_endpoint.delete"
        public static let service = "webhook"
        public typealias Response = NoContent
    }

    /// `webhook_endpoint.disable` (webhook): Stops deliveries to an endpoint.
    public enum WebhookEndpointDisable: BusCommand {
        public static let name = "webhook_endpoint.disable"
        public static let service = "webhook"
        public typealias Response = WebhookEndpoint
    }

    /// `webhook_endpoint.disable_failing` (webhook): Internal: sent by the webhook dispatcher (principal system) when an endpoint has failed for its whole retry window.
    public enum WebhookEndpointDisableFailing: BusCommand {
        public static let name = "webhook_endpoint.disable_failing"
        public static let service = "webhook"
        public typealias Response = EndpointFailureOutcome
    }

    /// `webhook_endpoint.enable` (webhook): Resumes deliveries to an endpoint.
    public enum WebhookEndpointEnable: BusCommand {
        public static let name = "webhook_endpoint.enable"
        public static let service = "webhook"
        public typealias Response = WebhookEndpoint
    }

    /// `webhook_endpoint.get` (webhook): One webhook endpoint of the tenant (404 for another tenant's).
    public enum WebhookEndpointGet: BusCommand {
        public static let name = "webhook_endpoint.get"
        public static let service = "webhook"
        public typealias Response = WebhookEndpoint
    }

    /// `webhook_endpoint.list` (webhook): The tenant's webhook endpoints, newest first, cursor-paginated.
    public enum WebhookEndpointList: BusCommand {
        public static let name = "webhook_endpoint.list"
        public static let service = "webhook"
        public typealias Response = Page<WebhookEndpoint>
    }

    /// `webhook_endpoint.redeliver` (webhook): Sends one stored event to one endpoint again, as a delivery of its own.
    public enum WebhookEndpointRedeliver: BusCommand {
        public static let name = "webhook_endpoint.redeliver"
        public static let service = "webhook"
        public typealias Response = WebhookDelivery
    }

    /// Every command of the catalogue, in the order of schemas/commands.
    /// The secret fields of each command type that has some (``BusCommand/secretFields``).
    public static let secretFields: [String: [String]] = Dictionary(
        uniqueKeysWithValues: all.filter { !$0.secretFields.isEmpty }.map { ($0.name, $0.secretFields) })

    public static let all: [any BusCommand.Type] = [
        AdminDeadLetterRetry.self,
        AdminDeadLetters.self,
        AdminStreams.self,
        ApiKeyCreate.self,
        ApiKeyDelete.self,
        ApiKeyList.self,
        AuthLogin.self,
        AuthLogout.self,
        AuthRefresh.self,
        AuthSignup.self,
        AuthToken.self,
        AuthVerifyEmail.self,
        CustomerCreate.self,
        CustomerDelete.self,
        CustomerExport.self,
        CouponCreate.self,
        CouponDelete.self,
        CouponGet.self,
        CouponList.self,
        CreditNoteCreate.self,
        CreditNoteGet.self,
        CreditNoteList.self,
        CreditNoteVoid.self,
        CustomerGet.self,
        CustomerList.self,
        CustomerMe.self,
        CustomerReactivate.self,
        CustomerSuspend.self,
        CustomerUpdate.self,
        EventGet.self,
        EventList.self,
        InvoiceCreate.self,
        InvoiceFinalize.self,
        InvoiceGet.self,
        InvoiceItemCreate.self,
        InvoiceItemDelete.self,
        InvoiceItemList.self,
        InvoiceList.self,
        InvoiceMarkUncollectible.self,
        InvoicePay.self,
        InvoiceRetryPayment.self,
        InvoiceUpcoming.self,
        InvoiceVoid.self,
        NotifyEmailVerification.self,
        OauthClientCreate.self,
        OauthClientDelete.self,
        OauthClientList.self,
        PaymentMethodCreate.self,
        PaymentMethodDelete.self,
        PaymentMethodList.self,
        PlanArchive.self,
        PlanCreate.self,
        PlanGet.self,
        PlanList.self,
        PlanUpdate.self,
        SubscriptionCancel.self,
        SubscriptionChangePlan.self,
        SubscriptionCreate.self,
        SubscriptionEndTrial.self,
        SubscriptionExpireIncomplete.self,
        SubscriptionGet.self,
        SubscriptionList.self,
        SubscriptionNoticeTrialEnd.self,
        SubscriptionPause.self,
        SubscriptionRenew.self,
        SubscriptionResume.self,
        SubscriptionUpdate.self,
        TaxRateCreate.self,
        TaxRateGet.self,
        TaxRateList.self,
        TaxRateUpdate.self,
        TenantCreate.self,
        TenantGet.self,
        TenantUpdate.self,
        TestClockAdvance.self,
        TestClockCreate.self,
        TestClockGet.self,
        WebhookDeliveryList.self,
        WebhookEndpointCreate.self,
        WebhookEndpointDelete.self,
        WebhookEndpointDisable.self,
        WebhookEndpointDisableFailing.self,
        WebhookEndpointEnable.self,
        WebhookEndpointGet.self,
        WebhookEndpointList.self,
        WebhookEndpointRedeliver.self,
    ]
}
