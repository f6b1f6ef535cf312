import Synchronization

/// The dispatcher's delivery slots, shared out so that endpoints which hang until the timeout
/// cannot take the slots everyone else needs: at most `total` deliveries in flight, of which one
/// tenant holds at most `perTenant`, and one endpoint at most `perEndpoint` unless it answers
/// quickly. An endpoint is quick once an attempt to it took less than `slowAttempt` (and until one
/// takes longer): a healthy receiver then keeps the tenant's whole share, as before the shares; one
/// not yet heard from, or slow, is held to `perEndpoint`. Due deliveries are picked round-robin:
/// one per tenant per round, and within a tenant one per endpoint.
struct DeliverySlots: Sendable {
    struct Limits: Sendable, Hashable {
        var total: Int
        var perTenant: Int
        var perEndpoint: Int
        var slowAttempt: Duration = .seconds(1)
    }

    /// What a delivery in flight holds.
    private struct Holder: Sendable {
        var tenant: String
        var endpoint: String
    }

    let limits: Limits
    private var holders: [String: Holder] = [:]
    private var byTenant: [String: Int] = [:]
    private var byEndpoint: [String: Int] = [:]
    /// Endpoints whose latest attempt from this process was quick.
    private var quick: Set<String> = []
    /// The tenant served first in the last pick: the next pick starts after it, so when slots are
    /// scarce no tenant is always first.
    private var lastFirst: String?

    init(_ limits: Limits) {
        var limits = limits
        limits.total = max(1, limits.total)
        limits.perTenant = max(1, min(limits.perTenant, limits.total))
        limits.perEndpoint = max(1, min(limits.perEndpoint, limits.perTenant))
        self.limits = limits
    }

    var inFlight: Int { holders.count }
    var free: Int { max(0, limits.total - holders.count) }
    /// The deliveries in flight: not candidates again until they finish.
    var deliveries: [String] { Array(holders.keys) }
    /// Tenants and endpoints at their share: their due deliveries are not worth fetching.
    var fullTenants: [String] { byTenant.filter { $0.value >= limits.perTenant }.map(\.key) }
    var fullEndpoints: [String] { byEndpoint.filter { $0.value >= share(of: $0.key) }.map(\.key) }

    /// How many deliveries to `endpoint` may be in flight at once.
    func share(of endpoint: String) -> Int { quick.contains(endpoint) ? limits.perTenant : limits.perEndpoint }

    /// Whether a delivery of `tenant` to `endpoint` could take a slot now.
    func canStart(tenant: String, endpoint: String) -> Bool {
        canStart(tenant: tenant) && byEndpoint[endpoint, default: 0] < share(of: endpoint)
    }

    func canStart(tenant: String) -> Bool { free > 0 && byTenant[tenant, default: 0] < limits.perTenant }

    /// The tenant of each endpoint with a delivery in flight.
    var endpointTenants: [String: String] {
        Dictionary(holders.values.map { ($0.endpoint, $0.tenant) }, uniquingKeysWith: { first, _ in first })
    }

    /// Picks from `candidates` (due deliveries, in the order found) round-robin by tenant, then by
    /// endpoint, until the slots or the shares run out; the picked ones hold their slots until
    /// ``release(_:attempt:)``.
    mutating func pick<Candidate>(
        _ candidates: [Candidate], id: (Candidate) -> String, tenant: (Candidate) -> String, endpoint: (Candidate) -> String
    ) -> [Candidate] {
        // Per tenant, per endpoint, the candidates in the order found.
        var queues: [String: [String: [Candidate]]] = [:]
        var endpointOrder: [String: [String]] = [:]
        for candidate in candidates where holders[id(candidate)] == nil {
            let t = tenant(candidate)
            let e = endpoint(candidate)
            if queues[t]?[e] == nil { endpointOrder[t, default: []].append(e) }
            queues[t, default: [:]][e, default: []].append(candidate)
        }
        var tenants = queues.keys.sorted()
        if let last = lastFirst, let start = tenants.firstIndex(where: { $0 > last }) {
            tenants = Array(tenants[start...] + tenants[..<start])
        }
        lastFirst = tenants.first ?? lastFirst
        var next: [String: Int] = [:]  // per tenant, the endpoint to try next
        var picked: [Candidate] = []
        var progress = true
        while progress, free > 0 {
            progress = false
            for t in tenants where canStart(tenant: t) {
                let order = endpointOrder[t] ?? []
                // The tenant's next endpoint (round-robin) with a candidate left and room in its share.
                for step in 0..<order.count {
                    let index = (next[t, default: 0] + step) % order.count
                    let e = order[index]
                    guard byEndpoint[e, default: 0] < share(of: e), var queue = queues[t]?[e], !queue.isEmpty else { continue }
                    let candidate = queue.removeFirst()
                    queues[t]?[e] = queue
                    next[t] = index + 1
                    holders[id(candidate)] = Holder(tenant: t, endpoint: e)
                    byTenant[t, default: 0] += 1
                    byEndpoint[e, default: 0] += 1
                    picked.append(candidate)
                    progress = true
                    break
                }
            }
        }
        return picked
    }

    /// The delivery finished (or was not claimed after all): its slot is free again. `attempt`, how
    /// long its request took (nil when none was made), says whether its endpoint answers quickly.
    mutating func release(_ id: String, attempt: Duration? = nil) {
        guard let holder = holders.removeValue(forKey: id) else { return }
        byTenant[holder.tenant, default: 1] -= 1
        if byTenant[holder.tenant] == 0 { byTenant[holder.tenant] = nil }
        byEndpoint[holder.endpoint, default: 1] -= 1
        if byEndpoint[holder.endpoint] == 0 { byEndpoint[holder.endpoint] = nil }
        if let attempt {
            if attempt < limits.slowAttempt { quick.insert(holder.endpoint) } else { quick.remove(holder.endpoint) }
        }
    }
}

/// The deliveries this process committed lately (fan-out, redelivery), by tenant and endpoint, so
/// that a busy dispatcher looks for due work again only when some may be for a tenant and endpoint
/// with a free share (each look reads the due deliveries; SecantusDB reads all of them).
final class DeliveryArrivals: Sendable {
    struct Arrival: Sendable {
        var generation: UInt64
        var tenant: String
        var endpoint: String
    }

    private struct State {
        var generation: UInt64 = 0
        var recent: [Arrival] = []
    }

    /// Arrivals kept; a dispatcher that has not looked for longer looks anyway.
    static let capacity = 1_024
    private let state = Mutex(State())

    init() {}

    func note(tenant: String, endpoints: [String]) {
        state.withLock { state in
            state.generation += 1
            for endpoint in endpoints {
                state.recent.append(Arrival(generation: state.generation, tenant: tenant, endpoint: endpoint))
            }
            if state.recent.count > Self.capacity { state.recent.removeFirst(state.recent.count - Self.capacity) }
        }
    }

    var generation: UInt64 { state.withLock { $0.generation } }

    /// The generation now and what arrived after `seen`; nil arrivals: more than the log reaches back
    /// to, so anything may have.
    func since(_ seen: UInt64) -> (generation: UInt64, arrivals: [Arrival]?) {
        state.withLock { state in
            guard state.generation > seen else { return (state.generation, []) }
            guard let oldest = state.recent.first, oldest.generation <= seen + 1 else { return (state.generation, nil) }
            return (state.generation, state.recent.filter { $0.generation > seen })
        }
    }
}

/// The dispatcher's view of due work between looks: the last page of due deliveries not yet
/// started, and what may have changed since. A look (a query) is worth it only when it may find
/// something that could start now: after the poll interval (retries come due, leases lapse),
/// when this process committed deliveries for a tenant and endpoint with a free share, when a
/// tenant or endpoint that the last look left out (at its share) has room again, or when the
/// page ran out and was full. Otherwise the page is worked through as slots free up.
struct DueWork<Candidate: Sendable>: Sendable {
    /// Found due, not started yet (newest look first, at most `capacity`).
    private(set) var waiting: [Candidate] = []
    private var lastLook: ContinuousClock.Instant?
    private var seen: UInt64 = 0
    private var lastPageFull = false
    private var leftOutTenants: Set<String> = []
    /// Endpoint → tenant.
    private var leftOutEndpoints: [String: String] = [:]
    let pageSize: Int
    let capacity: Int

    init(pageSize: Int) {
        self.pageSize = pageSize
        self.capacity = pageSize * 4
    }

    func shouldLook(slots: DeliverySlots, arrivals: DeliveryArrivals, now: ContinuousClock.Instant, pollInterval: Duration) -> Bool {
        guard slots.free > 0 else { return false }
        guard let lastLook, now - lastLook < pollInterval else { return true }
        if waiting.isEmpty && lastPageFull { return true }
        if leftOutTenants.contains(where: { slots.canStart(tenant: $0) }) { return true }
        if leftOutEndpoints.contains(where: { slots.canStart(tenant: $0.value, endpoint: $0.key) }) { return true }
        guard let arrived = arrivals.since(seen).arrivals else { return true }
        return arrived.contains { slots.canStart(tenant: $0.tenant, endpoint: $0.endpoint) }
    }

    /// Notes a look made at `now`: its page (found with `slots`' full tenants and endpoints left
    /// out; `full` when the server had more) goes first, before what was found earlier and not started.
    mutating func looked(
        page: [Candidate], full: Bool, id: (Candidate) -> String, slots: DeliverySlots, arrivalsSeen: UInt64,
        now: ContinuousClock.Instant
    ) {
        lastLook = now
        seen = arrivalsSeen
        lastPageFull = full
        leftOutTenants = Set(slots.fullTenants)
        let tenants = slots.endpointTenants
        leftOutEndpoints = Dictionary(slots.fullEndpoints.map { ($0, tenants[$0] ?? "") }, uniquingKeysWith: { first, _ in first })
        let fresh = Set(page.map(id))
        waiting = Array((page + waiting.filter { !fresh.contains(id($0)) }).prefix(capacity))
    }

    /// Takes the started ones out.
    mutating func started(_ ids: Set<String>, id: (Candidate) -> String) {
        guard !ids.isEmpty else { return }
        waiting.removeAll { ids.contains(id($0)) }
    }
}
