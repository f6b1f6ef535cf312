import BillingDomain
import MessageBus

// The billing rules' errors, mapped to problems once, here: the worker runtime answers any
// `ProblemConvertible` it catches, so handlers let rule errors propagate.

/// Any state machine's refused event (a subscription's or an invoice's): 409 `illegal_transition`.
extension IllegalTransition: ProblemConvertible {
    public var problem: Problem { Problem(status: 409, code: code, title: "Conflict", detail: description) }
}

extension BillingRuleError: ProblemConvertible {
    public var problem: Problem {
        Problem(status: 422, code: code.rawValue, title: "Invalid request", detail: message, param: field)
    }
}
