import BillingDomain
import Contracts
import Foundation
import MessageBus
import Mongo
import WorkerRuntime

/// A transition that is due at a time: what the scheduler sends and a test clock runs.
struct DueAction: Sendable, Hashable {
    enum Kind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case renew, endTrial = "end_trial", noticeTrialEnd = "notice_trial_end", expireIncomplete = "expire_incomplete",
            retryPayment = "retry_payment"

        var description: String { rawValue }

        /// The command that carries it (and names the service that runs it).
        var command: any BusCommand.Type {
            switch self {
            case .renew: Commands.SubscriptionRenew.self
            case .endTrial: Commands.SubscriptionEndTrial.self
            case .noticeTrialEnd: Commands.SubscriptionNoticeTrialEnd.self
            case .expireIncomplete: Commands.SubscriptionExpireIncomplete.self
            case .retryPayment: Commands.InvoiceRetryPayment.self
            }
        }
    }

    var kind: Kind
    /// The subscription (or, for a retry, the invoice).
    var id: String
    var tenant: String
    var due: Date

    /// Derived from (object, due time, action): a restart or a second scheduler sends the same
    /// command, which the worker's ledger answers without running it twice.
    var commandID: String { "\(kind.rawValue)_\(id)_\(Int64(due.timeIntervalSince1970))" }
}

extension BillingEngine {
    /// Applies a due action in the context's transaction; false when it was no longer due.
    func apply(_ action: DueAction, _ context: CommandContext, at time: Date) throws -> Bool {
        switch action.kind {
        case .renew: try renew(context, tenant: action.tenant, id: action.id, at: time)
        case .endTrial: try endTrial(context, tenant: action.tenant, id: action.id, at: time)
        case .noticeTrialEnd: try noticeTrialEnd(context, tenant: action.tenant, id: action.id, at: time)
        case .expireIncomplete: try expireIncomplete(context, tenant: action.tenant, id: action.id, at: time)
        case .retryPayment: try retryPayment(context, tenant: action.tenant, id: action.id, at: time)
        }
    }

    /// Everything due by `until` on one clock (`testClock` nil: the real clock), earliest first.
    func dueActions(_ database: MongoDatabase, testClock: String?, tenant: String? = nil, until: Date, limit: Int = 500)
        async throws -> [DueAction]
    {
        var scope: BSONDocument = ["test_clock": testClock.map(BSONValue.string) ?? .null]
        if let tenant { scope["tenant_id"] = .string(tenant) }
        func filter(_ extra: BSONDocument) -> BSONDocument {
            var f = scope
            for (k, v) in extra { f[k] = v }
            return f
        }
        let subscriptions = database.collection(BillingCollections.subscriptions, as: SubscriptionDocument.self)
        let options = FindOptions(limit: limit)
        var actions: [DueAction] = []
        for s in try await subscriptions.find(
            filter(["status": ["$in": ["active", "past_due"]], "current_period_end": ["$lte": .datetime(until)]]),
            options: options)
        {
            actions.append(DueAction(kind: .renew, id: s.id, tenant: s.tenantID, due: s.currentPeriodEnd))
        }
        let notice = trialWillEndNotice
        for s in try await subscriptions.find(
            filter(["status": "trialing", "trial_end": ["$lte": .datetime(until.addingTimeInterval(notice))]]),
            options: options)
        {
            guard let trialEnd = s.trialEnd else { continue }
            if trialEnd <= until { actions.append(DueAction(kind: .endTrial, id: s.id, tenant: s.tenantID, due: trialEnd)) }
            if !s.trialWillEndSent {
                actions.append(
                    DueAction(kind: .noticeTrialEnd, id: s.id, tenant: s.tenantID, due: trialEnd.addingTimeInterval(-notice)))
            }
        }
        for s in try await subscriptions.find(
            filter([
                "status": "incomplete",
                "created_at": ["$lte": .datetime(until.addingTimeInterval(-SubscriptionStatus.incompleteWindow))],
            ]), options: options)
        {
            actions.append(
                DueAction(
                    kind: .expireIncomplete, id: s.id, tenant: s.tenantID,
                    due: s.createdAt.addingTimeInterval(SubscriptionStatus.incompleteWindow)))
        }
        let invoices = database.collection(BillingCollections.invoices, as: InvoiceDocument.self)
        for i in try await invoices.find(
            filter(["status": "open", "next_payment_attempt": ["$lte": .datetime(until)]]), options: options)
        {
            guard let due = i.nextPaymentAttempt else { continue }
            actions.append(DueAction(kind: .retryPayment, id: i.id, tenant: i.tenantID, due: due))
        }
        // Net-terms invoices unpaid at their due date, then at each reminder.
        for i in try await invoices.find(
            filter(["status": "open", "next_reminder_at": ["$lte": .datetime(until)]]), options: options)
        {
            guard let due = i.nextReminderAt else { continue }
            actions.append(DueAction(kind: .retryPayment, id: i.id, tenant: i.tenantID, due: due))
        }
        // Earliest first; at the same instant, payments before renewals (a retry due at a period end
        // settles the old period first) and trial notices before trial ends.
        let order: [DueAction.Kind: Int] = [.retryPayment: 0, .noticeTrialEnd: 1, .expireIncomplete: 2, .endTrial: 3, .renew: 4]
        return actions.sorted { ($0.due, order[$0.kind] ?? 9, $0.id) < ($1.due, order[$1.kind] ?? 9, $1.id) }
    }
}
