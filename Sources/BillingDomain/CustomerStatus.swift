/// A customer's lifecycle. Handlers ask ``canBecome(_:)`` instead of setting `status` by hand.
public enum CustomerStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case active, suspended, deleted

    /// The legal transitions: suspend and reactivate, and erasure from either live state. `deleted` is final.
    public func canBecome(_ next: CustomerStatus) -> Bool {
        switch (self, next) {
        case (.active, .suspended), (.suspended, .active), (.active, .deleted), (.suspended, .deleted): true
        default: false
        }
    }
}
