import Foundation
import Synchronization

/// Where rules get "now" from: injected, never `Date()` inside a rule.
public protocol BillingClock: Sendable {
    func now() -> Date
}

/// The real time.
public struct SystemBillingClock: BillingClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock that stands still until told to move (tests, test clocks).
public final class ManualBillingClock: BillingClock {
    private let current: Mutex<Date>

    public init(_ start: Date) { self.current = Mutex(start) }

    public func now() -> Date { current.withLock { $0 } }

    public func advance(by seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }

    public func set(_ date: Date) { current.withLock { $0 = date } }
}
