/// An event a state machine refuses in its current state; the gateway maps it to 409 Conflict.
public struct IllegalTransition<State, Event>: Error, Hashable, CustomStringConvertible
where State: Hashable & Sendable & CustomStringConvertible, Event: Hashable & Sendable & CustomStringConvertible {
    /// What the machine is about: `subscription`, `invoice`.
    public let object: String
    public let from: State
    public let event: Event

    public init(object: String, from: State, event: Event) {
        self.object = object
        self.from = from
        self.event = event
    }

    /// Always `illegal_transition`: one code for every refused transition.
    public var code: String { "illegal_transition" }

    public var description: String { "cannot \(event): the \(object) is \(from)" }
}
