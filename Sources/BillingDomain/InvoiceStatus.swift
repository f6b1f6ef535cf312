/// The states of an invoice: `draft → open → paid | void | uncollectible`, and an uncollectible
/// invoice may still be paid or voided (as Stripe allows). Change them only through ``applying(_:)``.
public enum InvoiceStatus: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    case draft, open, paid, void, uncollectible

    public var description: String { rawValue }

    /// Whether nothing can happen to the invoice any more.
    public var isTerminal: Bool { self == .paid || self == .void }

    /// The status after `event`, or ``InvoiceTransitionError`` when the event is not allowed now.
    public func applying(_ event: InvoiceEvent) throws(InvoiceTransitionError) -> InvoiceStatus {
        guard let next = Self.transition(from: self, on: event) else {
            throw InvoiceTransitionError(object: "invoice", from: self, event: event)
        }
        return next
    }

    /// The one table of legal transitions: the next status, or nil when `event` is illegal in `status`.
    public static func transition(from status: InvoiceStatus, on event: InvoiceEvent) -> InvoiceStatus? {
        switch (status, event) {
        case (.draft, .finalize): .open
        case (.open, .paymentSucceeded), (.uncollectible, .paymentSucceeded): .paid
        case (.open, .paymentFailed), (.uncollectible, .paymentFailed): status
        case (.open, .void), (.uncollectible, .void): .void
        case (.open, .markUncollectible): .uncollectible
        default: nil
        }
    }
}

/// What can happen to an invoice.
public enum InvoiceEvent: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Leaves `draft`: the invoice gets its number and can be paid.
    case finalize
    case paymentSucceeded
    /// A charge failed; the invoice stays payable (dunning retries it).
    case paymentFailed
    case void
    case markUncollectible

    /// The event as the verb of an error message ("cannot void: the invoice is paid").
    public var description: String {
        switch self {
        case .finalize: "finalize"
        case .paymentSucceeded: "pay"
        case .paymentFailed: "record a failed payment"
        case .void: "void"
        case .markUncollectible: "mark uncollectible"
        }
    }
}

public typealias InvoiceTransitionError = IllegalTransition<InvoiceStatus, InvoiceEvent>
