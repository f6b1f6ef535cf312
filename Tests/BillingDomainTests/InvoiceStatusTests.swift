import BillingDomain
import Testing

/// Every legal invoice transition, written out independently of the code's table.
private let legalInvoiceTransitions: [InvoiceStatus: [InvoiceEvent: InvoiceStatus]] = [
    .draft: [.finalize: .open],
    .open: [.paymentSucceeded: .paid, .paymentFailed: .open, .void: .void, .markUncollectible: .uncollectible],
    .uncollectible: [.paymentSucceeded: .paid, .paymentFailed: .uncollectible, .void: .void],
    .paid: [:],
    .void: [:],
]

@Suite("Invoice state machine")
struct InvoiceStatusTests {
    /// All 5 × 5 (status, event) pairs.
    @Test(arguments: InvoiceStatus.allCases, InvoiceEvent.allCases)
    func everyStatusAndEvent(status: InvoiceStatus, event: InvoiceEvent) throws {
        if let expected = legalInvoiceTransitions[status]?[event] {
            #expect(try status.applying(event) == expected)
        } else {
            #expect(throws: InvoiceTransitionError(object: "invoice", from: status, event: event)) {
                try status.applying(event)
            }
        }
    }

    @Test(arguments: [
        (InvoiceStatus.paid, InvoiceEvent.void, "cannot void: the invoice is paid"),
        (.draft, .paymentSucceeded, "cannot pay: the invoice is draft"),
        (.void, .paymentSucceeded, "cannot pay: the invoice is void"),
        (.open, .finalize, "cannot finalize: the invoice is open"),
        (.uncollectible, .markUncollectible, "cannot mark uncollectible: the invoice is uncollectible"),
        (.draft, .void, "cannot void: the invoice is draft"),
    ])
    func illegalTransitionNamesStatusAndEvent(status: InvoiceStatus, event: InvoiceEvent, message: String) {
        do {
            _ = try status.applying(event)
            Issue.record("\(event) on \(status) was allowed")
        } catch {
            #expect(error.from == status && error.event == event)
            #expect(error.description == message)
        }
    }

    @Test func aFailedInvoiceIsRetriedThenPaidLate() throws {
        var status = InvoiceStatus.draft
        for event in [InvoiceEvent.finalize, .paymentFailed, .paymentFailed, .markUncollectible, .paymentSucceeded] {
            status = try status.applying(event)
        }
        #expect(status == .paid)
        #expect(InvoiceStatus.allCases.filter(\.isTerminal) == [.paid, .void])
    }
}
