import MessageBus

// The domain events of billing:events, one constant each, from schemas/events (the contract); the
// test CommandCatalogTests keeps the two in agreement. Handlers emit these, never strings.

extension EventType {
    /// `api_key.created`: an API key was created.
    public static let apiKeyCreated = EventType("api_key.created")
    /// `api_key.revoked`: an API key was revoked.
    public static let apiKeyRevoked = EventType("api_key.revoked")
    /// `auth.refresh_reuse_detected`: a rotated refresh token was presented again: its family was revoked.
    public static let authRefreshReuseDetected = EventType("auth.refresh_reuse_detected")
    /// `charge.refunded`: A payment was refunded through the payment provider, for a credit note.
    public static let chargeRefunded = EventType("charge.refunded")
    /// `coupon.created`: A coupon was created.
    public static let couponCreated = EventType("coupon.created")
    /// `coupon.deleted`: A coupon was deleted: no new redemptions.
    public static let couponDeleted = EventType("coupon.deleted")
    /// `credit_note.created`: A credit note was issued.
    public static let creditNoteCreated = EventType("credit_note.created")
    /// `credit_note.voided`: A credit note was voided.
    public static let creditNoteVoided = EventType("credit_note.voided")
    /// `customer.created`: A customer was created.
    public static let customerCreated = EventType("customer.created")
    /// `customer.deleted`: A customer was erased (GDPR).
    public static let customerDeleted = EventType("customer.deleted")
    /// `customer.suspended`: A customer was suspended.
    public static let customerSuspended = EventType("customer.suspended")
    /// `customer.updated`: A customer changed: fields names what (name, email, metadata, status on reactivation).
    public static let customerUpdated = EventType("customer.updated")
    /// `invoice.created`: an invoice was created (it is finalised in the same transaction).
    public static let invoiceCreated = EventType("invoice.created")
    /// `invoice.finalized`: an invoice left draft and got its number.
    public static let invoiceFinalized = EventType("invoice.finalized")
    /// `invoice.marked_uncollectible`: an invoice was marked uncollectible.
    public static let invoiceMarkedUncollectible = EventType("invoice.marked_uncollectible")
    /// `invoice.overdue`: an invoice sent on net terms is unpaid past its due date (a reminder).
    public static let invoiceOverdue = EventType("invoice.overdue")
    /// `invoice.paid`: an invoice was paid (or had nothing due).
    public static let invoicePaid = EventType("invoice.paid")
    /// `invoice.payment_failed`: a charge of an invoice failed; failure_code is the provider's.
    public static let invoicePaymentFailed = EventType("invoice.payment_failed")
    /// `invoice.voided`: an invoice was voided.
    public static let invoiceVoided = EventType("invoice.voided")
    /// `oauth_client.created`: an OAuth client was created.
    public static let oauthClientCreated = EventType("oauth_client.created")
    /// `oauth_client.deleted`: an OAuth client was deleted.
    public static let oauthClientDeleted = EventType("oauth_client.deleted")
    /// `operation.completed`: A request answered with 202 completed; the payload is what GET /v1/operations/{id} shows (secrets redacted).
    public static let operationCompleted = OperationCompleted.eventType
    /// `payment_method.attached`: a payment method was saved.
    public static let paymentMethodAttached = EventType("payment_method.attached")
    /// `payment_method.detached`: a payment method was removed.
    public static let paymentMethodDetached = EventType("payment_method.detached")
    /// `plan.archived`: A plan was archived: no new subscriptions; existing ones continue.
    public static let planArchived = EventType("plan.archived")
    /// `plan.created`: A plan was created.
    public static let planCreated = EventType("plan.created")
    /// `plan.updated`: A plan changed; fields names what.
    public static let planUpdated = EventType("plan.updated")
    /// `subscription.canceled`: a subscription ended (canceled or incomplete_expired).
    public static let subscriptionCanceled = EventType("subscription.canceled")
    /// `subscription.created`: a subscription was created.
    public static let subscriptionCreated = EventType("subscription.created")
    /// `subscription.past_due`: a renewal charge failed; dunning retries follow.
    public static let subscriptionPastDue = EventType("subscription.past_due")
    /// `subscription.renewed`: a subscription started its next period.
    public static let subscriptionRenewed = EventType("subscription.renewed")
    /// `subscription.trial_will_end`: a trial ends in 3 days.
    public static let subscriptionTrialWillEnd = EventType("subscription.trial_will_end")
    /// `subscription.updated`: a subscription changed (plan, status, payment method, metadata, schedule).
    public static let subscriptionUpdated = EventType("subscription.updated")
    /// `tax_rate.created`: A tax rate was created.
    public static let taxRateCreated = EventType("tax_rate.created")
    /// `tax_rate.updated`: A tax rate changed (display name, description, metadata, active).
    public static let taxRateUpdated = EventType("tax_rate.updated")
    /// `user.email_verified`: a verification token was used.
    public static let userEmailVerified = EventType("user.email_verified")
    /// `user.erased`: the login behind an erased customer was erased.
    public static let userErased = EventType("user.erased")
    /// `user.logged_out`: a session ended.
    public static let userLoggedOut = EventType("user.logged_out")
    /// `user.login_failed`: audit: a failed sign-in (the email only as a SHA-256).
    public static let userLoginFailed = EventType("user.login_failed")
    /// `user.registered`: a login was created at signup (its verification token goes to the notifier privately).
    public static let userRegistered = EventType("user.registered")
    /// `webhook_endpoint.created`: A webhook endpoint was created (its secret is never in an event).
    public static let webhookEndpointCreated = EventType("webhook_endpoint.created")
    /// `webhook_endpoint.deleted`: A webhook endpoint was deleted; its pending deliveries were canceled.
    public static let webhookEndpointDeleted = EventType("webhook_endpoint.deleted")
    /// `webhook_endpoint.disabled`: A webhook endpoint was disabled: on request, or because every delivery to it failed for a whole retry window.
    public static let webhookEndpointDisabled = EventType("webhook_endpoint.disabled")
    /// `webhook_endpoint.enabled`: A webhook endpoint was enabled again.
    public static let webhookEndpointEnabled = EventType("webhook_endpoint.enabled")

    /// Every event type of the catalogue.
    public static let all: [EventType] = [
        .apiKeyCreated,
        .apiKeyRevoked,
        .authRefreshReuseDetected,
        .chargeRefunded,
        .couponCreated,
        .couponDeleted,
        .creditNoteCreated,
        .creditNoteVoided,
        .customerCreated,
        .customerDeleted,
        .customerSuspended,
        .customerUpdated,
        .invoiceCreated,
        .invoiceFinalized,
        .invoiceMarkedUncollectible,
        .invoiceOverdue,
        .invoicePaid,
        .invoicePaymentFailed,
        .invoiceVoided,
        .oauthClientCreated,
        .oauthClientDeleted,
        .operationCompleted,
        .paymentMethodAttached,
        .paymentMethodDetached,
        .planArchived,
        .planCreated,
        .planUpdated,
        .subscriptionCanceled,
        .subscriptionCreated,
        .subscriptionPastDue,
        .subscriptionRenewed,
        .subscriptionTrialWillEnd,
        .subscriptionUpdated,
        .taxRateCreated,
        .taxRateUpdated,
        .userEmailVerified,
        .userErased,
        .userLoggedOut,
        .userLoginFailed,
        .userRegistered,
        .webhookEndpointCreated,
        .webhookEndpointDeleted,
        .webhookEndpointDisabled,
        .webhookEndpointEnabled,
    ]
}
