import BillingDomain
import Contracts
import Foundation
import MessageBus
import Mongo
import ServiceKit
import WorkerRuntime

/// Test clocks (as Stripe's): customers created with `test_clock` live at its frozen time, and
/// advancing it runs every transition due in between, in time order, before answering.
enum TestClocks {
    /// Bounds one advance (a year of daily renewals for a few dozen subscriptions fits easily).
    static let maxSteps = 20_000

    static func register(_ registry: inout HandlerRegistry, _ engine: BillingEngine) {
        registry.write(Commands.TestClockCreate.self) { context, payload in
            let access = Access(context.envelope.principal)
            try access.require([.admin, .system], to: "create test clocks")
            let clock = TestClockDocument(
                id: ResourceID.make("clock", at: context.now), tenantID: access.tenant,
                name: payload.body.name?.value, frozenTime: payload.body.frozenTime.wholeSecondsDown, status: "ready",
                createdAt: context.now, updatedAt: context.now, version: 1)
            _ = try context.transaction.collection(BillingCollections.testClocks, as: TestClockDocument.self).insertOne(clock)
            return Answer(status: 201, clock.resource())
        }
        registry.read(Commands.TestClockGet.self) { envelope, context, payload in
            let access = Access(envelope.principal)
            let id = try ResourceID.path(payload.path.id, prefix: "clock", what: "test clock")
            guard
                let clock = try await context.database.collection(BillingCollections.testClocks, as: TestClockDocument.self)
                    .findOne(["_id": .string(id), "tenant_id": .string(access.tenant)])
            else { throw Problem.notFound("test clock") }
            return Answer(clock.resource())
        }
        registry.transact(Commands.TestClockAdvance.self) { envelope, context, payload in
            try await advance(envelope, context, payload, engine)
        }
    }

    /// Runs every due transition up to `frozen_time`, earliest first, each in its own transaction,
    /// then moves the clock. A redelivery resumes: each transition checks it is still due.
    static func advance(
        _ envelope: Envelope, _ context: TransactContext, _ payload: Commands.TestClockAdvance.Payload,
        _ engine: BillingEngine
    ) async throws -> Answer<TestClock> {
        let access = Access(envelope.principal)
        let id = try ResourceID.path(payload.path.id, prefix: "clock", what: "test clock")
        let target = payload.body.frozenTime.wholeSecondsDown
        let clocks = context.database.collection(BillingCollections.testClocks, as: TestClockDocument.self)
        guard let clock = try await clocks.findOne(["_id": .string(id), "tenant_id": .string(access.tenant)]) else {
            throw Problem.notFound("test clock")
        }
        guard target >= clock.frozenTime else {
            throw Problem.invalid(
                "frozen_time", "a test clock only moves forward: it stands at \(MessageCoding.formatTimestamp(clock.frozenTime))")
        }
        var steps = 0
        while true {
            guard let next = try await engine.dueActions(context.database, testClock: id, tenant: access.tenant, until: target, limit: 50).first
            else { break }
            steps += 1
            guard steps <= maxSteps else {
                throw Problem(
                    status: 422, code: "too_many_transitions", title: "Advance too far",
                    detail: "more than \(maxSteps) transitions are due; advance in smaller steps", param: "frozen_time")
            }
            let applied = try await context.step(at: next.due) { step in try engine.apply(next, step, at: next.due) }
            if !applied {
                // Found due but not applicable (its state moved on): the query and the rule disagree; stop
                // rather than loop.
                throw Problem(
                    status: 500, code: "stuck_transition", title: "Internal error",
                    detail: "\(next.kind) of \(next.id) at \(MessageCoding.formatTimestamp(next.due)) is due but does not apply")
            }
        }
        let transitions = steps
        return try await context.commit { txn in
            let clocks = txn.transaction.collection(BillingCollections.testClocks, as: TestClockDocument.self)
            guard var clock = try clocks.findOne(["_id": .string(id)]) else { throw Problem.notFound("test clock") }
            if clock.frozenTime < target {
                try Versioned.update(
                    clocks, ["_id": .string(id)], version: clock.version, set: ["frozen_time": .datetime(target)],
                    at: txn.now)
                clock.frozenTime = target
                clock.version += 1
            }
            return Answer(clock.resource(transitions: transitions))
        }
    }
}
