import AsyncHTTPClient
import BillingDomain
import Contracts
import Crypto
import Foundation
import Logging
import MessageBus
import Metrics
import Mongo
import NIOCore
import NIOHTTP1
import Redis
import ServiceLifecycle
import Synchronization

/// Sends due deliveries: finds them in MongoDB, claims each with a conditional update (a lease, so
/// two workers never send the same attempt at once; a dead worker's claim lapses), POSTs the
/// signed event, logs the attempt, and schedules the next one or gives up at the end of the
/// window (then asks for the endpoint to be disabled if it failed all along).
public final class WebhookDispatcher: Service, Sendable {
    let service: WebhookService
    let database: MongoDatabase
    let bus: CommandBus
    let clock: any BillingClock
    let logger: Logger
    let owner = "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UUID().uuidString.prefix(8))"
    let metrics = WebhookMetrics()
    /// This process's deliveries in flight, by tenant and endpoint.
    let slots: Mutex<DeliverySlots>
    private let client: HTTPClient

    public init(
        service: WebhookService, database: MongoDatabase, bus: CommandBus, clock: any BillingClock = SystemBillingClock(),
        logger: Logger = Logger(label: "billing.webhook")
    ) {
        self.service = service
        self.database = database
        self.bus = bus
        self.clock = clock
        self.logger = logger
        self.slots = Mutex(DeliverySlots(service.configuration.slotLimits))
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: Self.clientConfiguration())
    }

    static func clientConfiguration(dnsOverride: [String: String] = [:]) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(10)),
            decompression: .disabled)
        configuration.dnsOverride = dnsOverride
        // A refused connection is a failed attempt, logged at once; the retry schedule retries it.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 16
        return configuration
    }

    var configuration: WebhookConfiguration { service.configuration }
    var deliveries: MongoCollection<DeliveryRecord> {
        database.collection(WebhookCollections.deliveries, as: DeliveryRecord.self)
    }
    var endpoints: MongoCollection<EndpointRecord> {
        database.collection(WebhookCollections.endpoints, as: EndpointRecord.self)
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await self.sampleGauges() }
            await withGracefulShutdownHandler {
                await self.dispatchUntilShutdown()
            } onGracefulShutdown: {
                self.service.wake.signal()
            }
            tasks.cancelAll()
        }
        try? await client.shutdown()
    }

    /// Keeps up to `concurrency` deliveries in flight, starting one as soon as a slot frees up (a
    /// slow receiver holds its own slot, never the others' turn); on shutdown starts nothing new
    /// and returns once the deliveries in flight have finished.
    private func dispatchUntilShutdown() async {
        var due = DueWork<DeliveryRecord>(pageSize: configuration.concurrency * 4)
        await withDiscardingTaskGroup { inFlight in
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                // What the last look found comes first; a new look only when it may find more that can start.
                var picked = slots.withLock { $0.pick(due.waiting, id: \.id, tenant: \.tenantID, endpoint: \.endpointID) }
                due.started(Set(picked.map(\.id)), id: \.id)
                let look = slots.withLock {
                    due.shouldLook(
                        slots: $0, arrivals: service.arrivals, now: .now, pollInterval: configuration.pollInterval)
                }
                if look {
                    do {
                        picked += try await lookForDue(&due)
                    } catch {
                        logger.warning("webhook dispatch failed", metadata: ["error": "\(error)"])
                    }
                }
                for delivery in picked {
                    inFlight.addTask {
                        let attempt = await self.deliver(delivery)
                        self.slots.withLock { $0.release(delivery.id, attempt: attempt) }
                        self.service.wake.signal()
                    }
                }
                // Nothing started, or no slot left: wait for a finished delivery, new work or the poll.
                if picked.isEmpty || slots.withLock({ $0.free }) == 0 {
                    await service.wake.wait(timeout: configuration.pollInterval)
                }
            }
        }
    }

    private func sampleGauges() async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                metrics.retriesPending.record(
                    try await deliveries.count(["status": "pending", "attempt_count": ["$gte": 1]]))
                metrics.disabledEndpoints.record(try await endpoints.count(["status": "disabled"]))
            } catch {
                logger.debug("webhook gauges not sampled", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: configuration.gaugeInterval)
        }
    }

    /// Finds due deliveries and takes slots for those that may start now. The query leaves out
    /// what is in flight here and the tenants and endpoints already at their share, so a stalled
    /// tenant's backlog cannot fill the page (the server returns due deliveries in no useful
    /// order); the pick is round-robin by tenant, then endpoint (``DeliverySlots``).
    private func lookForDue(_ due: inout DueWork<DeliveryRecord>) async throws -> [DeliveryRecord] {
        // Arrivals from here on may not be in this page: they call for another look.
        let seen = service.arrivals.generation
        let (inFlight, fullTenants, fullEndpoints) = slots.withLock { ($0.deliveries, $0.fullTenants, $0.fullEndpoints) }
        let now = clock.now()
        var filter = Self.dueFilter(now)
        func excluding(_ values: [String]) -> BSONValue { ["$nin": .array(values.map(BSONValue.string))] }
        if !inFlight.isEmpty { filter["_id"] = excluding(inFlight) }
        if !fullTenants.isEmpty { filter["tenant_id"] = excluding(fullTenants) }
        if !fullEndpoints.isEmpty { filter["endpoint_id"] = excluding(fullEndpoints) }
        // Unsorted: the server would sort every due document to return a page (slow on SecantusDB);
        // what is due is sent within a poll or two either way.
        let found = try await deliveries.find(filter, options: FindOptions(limit: due.pageSize))
        let page = found.filter { $0.leaseUntil.map { $0 < now } ?? true }
        return slots.withLock { slots in
            due.looked(page: page, full: found.count >= due.pageSize, id: \.id, slots: slots, arrivalsSeen: seen, now: .now)
            let picked = slots.pick(due.waiting, id: \.id, tenant: \.tenantID, endpoint: \.endpointID)
            due.started(Set(picked.map(\.id)), id: \.id)
            return picked
        }
    }

    /// Claims and sends one delivery; returns how long its request took (nil when none was made).
    private func deliver(_ delivery: DeliveryRecord) async -> Duration? {
        do {
            return try await claimAndSend(delivery)
        } catch {
            logger.warning("webhook delivery failed to run", metadata: ["delivery": "\(delivery.id)", "error": "\(error)"])
            return nil
        }
    }

    /// Pending and due; whether a claim lapsed is checked on the documents (a `$or` here made the
    /// server scan the collection).
    static func dueFilter(_ now: Date) -> BSONDocument {
        ["status": "pending", "next_attempt_at": ["$lte": .datetime(now)]]
    }

    /// The conditional update that makes this worker the only sender of this attempt: it applies
    /// only to the version that was seen due and unclaimed. An `updateOne` on `_id` and `version`
    /// (SecantusDB answered the same filter through findAndModify with a collection scan).
    func claim(_ seen: DeliveryRecord, now: Date) async throws -> DeliveryRecord? {
        guard seen.status == "pending", let due = seen.nextAttemptAt, due <= now,
            seen.leaseUntil.map({ $0 < now }) ?? true
        else { return nil }
        let leaseUntil = now.addingTimeInterval(RetrySchedule.seconds(configuration.lease))
        let claimed = try await deliveries.updateOne(
            ["_id": .string(seen.id), "version": .int64(Int64(seen.version))],
            update: [
                "$set": ["lease_until": .datetime(leaseUntil), "lease_owner": .string(owner)], "$inc": ["version": 1],
            ])
        guard claimed.modifiedCount == 1 else { return nil }
        var delivery = seen
        delivery.leaseUntil = leaseUntil
        delivery.leaseOwner = owner
        delivery.version += 1
        return delivery
    }

    private func claimAndSend(_ seen: DeliveryRecord) async throws -> Duration? {
        let now = clock.now()
        guard let delivery = try await claim(seen, now: now) else { return nil }
        guard let endpoint = try await endpoints.findOne(["_id": .string(delivery.endpointID)]), endpoint.status == "enabled",
            let event = try await database.collection(WebhookCollections.events, as: EventRecord.self).findOne([
                "_id": .string(delivery.eventID)
            ])
        else {
            try await finish(
                delivery, update: ["$set": ["status": "canceled", "updated_at": .datetime(now), "next_attempt_at": .null]])
            metrics.outcome("canceled").increment()
            return nil
        }
        let attempt = await send(event: event, to: endpoint)
        try await record(attempt, of: delivery, endpoint: endpoint)
        return .milliseconds(attempt.latencyMilliseconds)
    }

    /// One POST of the event, signed; never throws: a failure is an attempt with an error.
    func send(event: EventRecord, to endpoint: EndpointRecord) async -> DeliveryAttempt {
        let started = clock.now()
        let clockStart = ContinuousClock.now
        func elapsed() -> Int {
            Int((ContinuousClock.now - clockStart).wholeMilliseconds)
        }
        do {
            let secret = try service.secrets.open(endpoint.sealedSecret)
            let body = Array(event.body.utf8)
            let timestamp = Int(started.timeIntervalSince1970)
            var request = HTTPClientRequest(url: endpoint.url)
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.headers.add(name: "user-agent", value: "billing-webhooks/1")
            request.headers.add(name: "webhook-id", value: event.id)
            request.headers.add(name: "webhook-timestamp", value: String(timestamp))
            request.headers.add(
                name: "webhook-signature",
                value: WebhookSecrets.signature(secret: secret, id: event.id, timestamp: timestamp, body: body))
            request.body = .bytes(ByteBuffer(bytes: body))
            let (status, response) = try await post(request, url: endpoint.url)
            let latency = elapsed()
            metrics.latency.recordMilliseconds(latency)
            return DeliveryAttempt(
                at: started, statusCode: status, latencyMilliseconds: latency, response: response,
                error: (200...299).contains(status) ? nil : "HTTP \(status)")
        } catch {
            let latency = elapsed()
            metrics.latency.recordMilliseconds(latency)
            return DeliveryAttempt(
                at: started, statusCode: nil, latencyMilliseconds: latency, response: nil,
                error: String(describing: error).prefix(300).description)
        }
    }

    /// Sends within the 10 s limit; returns the status and the first 1 KiB of the body. The
    /// destination is resolved, screened and pinned first (a loopback host in development mode
    /// excepted).
    private func post(_ request: HTTPClientRequest, url: String) async throws -> (Int, String) {
        let timeout = configuration.requestTimeout
        var pinned: HTTPClient?
        guard let components = URLComponents(string: url), let host = components.host else {
            throw EndpointURLPolicy.DestinationRefused(host: url)
        }
        if let ip = try await service.policy.screenedAddress(host: host, port: components.port ?? 443) {
            pinned = HTTPClient(eventLoopGroupProvider: .singleton, configuration: Self.clientConfiguration(dnsOverride: [host: ip]))
        }
        let client = pinned ?? self.client
        do {
            let result = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                group.addTask {
                    let response = try await client.execute(request, timeout: .seconds(timeout.components.seconds))
                    var collected: [UInt8] = []
                    for try await chunk in response.body {
                        collected += chunk.readableBytesView.prefix(1024 - collected.count)
                        if collected.count >= 1024 { break }
                    }
                    return (Int(response.status.code), String(decoding: collected, as: UTF8.self))
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw DeliveryTimeout(seconds: Int(timeout.components.seconds))
                }
                defer { group.cancelAll() }
                guard let first = try await group.next() else { throw DeliveryTimeout(seconds: 0) }
                return first
            }
            try? await pinned?.shutdown()
            return result
        } catch {
            try? await pinned?.shutdown()
            throw error
        }
    }

    struct DeliveryTimeout: Error, CustomStringConvertible {
        var seconds: Int
        var description: String { "no complete response within \(seconds) s" }
    }

    /// Logs the attempt, then: done (2xx), the next attempt (backoff with jitter), or failed (the
    /// window is over); keeps the endpoint's failing streak, and asks for it to be disabled when the
    /// streak covers a whole window.
    func record(_ attempt: DeliveryAttempt, of delivery: DeliveryRecord, endpoint: EndpointRecord) async throws {
        let now = clock.now()
        let attempts = delivery.attemptCount + 1
        let first = delivery.firstAttemptAt ?? attempt.at
        let attemptBSON = try BSONEncoder().encodeValue(attempt)
        let succeeded = attempt.statusCode.map { (200...299).contains($0) } ?? false
        if succeeded {
            try await finish(
                delivery,
                update: [
                    "$set": [
                        "status": "succeeded", "attempt_count": .int64(Int64(attempts)), "first_attempt_at": .datetime(first),
                        "updated_at": .datetime(now), "next_attempt_at": .null,
                    ],
                    "$push": ["attempts": attemptBSON],
                ])
            metrics.outcome("succeeded").increment()
            if endpoint.failingSince != nil {
                _ = try await endpoints.updateOne(
                    ["_id": .string(endpoint.id), "failing_since": ["$ne": .null]],
                    update: ["$set": ["failing_since": .null], "$inc": ["version": 1]])
            }
            return
        }
        // The failing streak starts at the first failed attempt since the last success.
        _ = try await endpoints.updateOne(
            ["_id": .string(endpoint.id), "failing_since": .null],
            update: ["$set": ["failing_since": .datetime(attempt.at)], "$inc": ["version": 1]])
        if let next = configuration.retry.nextAttempt(after: attempts, firstAttempt: first, now: now) {
            try await finish(
                delivery,
                update: [
                    "$set": [
                        "status": "pending", "attempt_count": .int64(Int64(attempts)), "first_attempt_at": .datetime(first),
                        "next_attempt_at": .datetime(next), "updated_at": .datetime(now),
                    ],
                    "$push": ["attempts": attemptBSON],
                ])
            metrics.outcome("retry_scheduled").increment()
            logger.info(
                "webhook delivery failed; will retry",
                metadata: [
                    "delivery": "\(delivery.id)", "endpoint": "\(endpoint.id)", "attempt": "\(attempts)",
                    "error": "\(attempt.error ?? "")",
                ])
            return
        }
        try await finish(
            delivery,
            update: [
                "$set": [
                    "status": "failed", "attempt_count": .int64(Int64(attempts)), "first_attempt_at": .datetime(first),
                    "updated_at": .datetime(now), "next_attempt_at": .null,
                ],
                "$push": ["attempts": attemptBSON],
            ])
        metrics.outcome("failed").increment()
        logger.warning(
            "webhook delivery gave up at the end of its window",
            metadata: ["delivery": "\(delivery.id)", "endpoint": "\(endpoint.id)", "attempts": "\(attempts)"])
        // Failing all along: no success since this delivery's window began.
        guard let current = try await endpoints.findOne(["_id": .string(endpoint.id)]), current.status == "enabled",
            let since = current.failingSince, since <= first.addingTimeInterval(0.001)
        else { return }
        try await requestDisable(current, failingSince: since, windowStart: first)
    }

    /// The internal command that disables an endpoint (through the ledger, so its event is raised once).
    private func requestDisable(_ endpoint: EndpointRecord, failingSince: Date, windowStart: Date) async throws {
        let digest = Array(SHA256.hash(data: Data("disable|\(endpoint.id)|\(failingSince.timeIntervalSince1970)".utf8)))
        var bytes = Array(digest.prefix(16))
        bytes[6] = 0x80 | (bytes[6] & 0x0F)
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        let command = Envelope(
            id: MessageID.format(bytes), type: Commands.WebhookEndpointDisableFailing.name,
            principal: Principal(subject: "service:webhook", role: .system, tenant: endpoint.tenantID),
            payload: .object([
                "endpoint_id": .string(endpoint.id),
                "window_started_at": .string(MessageCoding.formatTimestamp(windowStart)),
            ]), createdAt: clock.now())
        try await bus.send(command, to: WebhookService.name)
    }

    /// Applies `update` if this worker still holds the delivery's lease, and releases it.
    private func finish(_ delivery: DeliveryRecord, update: BSONDocument) async throws {
        var update = update
        // Explicit nulls, not $unset: the claim's `lease_until: null` must match on every server.
        var set = update["$set"]?.documentValue ?? [:]
        set["lease_until"] = .null
        set["lease_owner"] = .null
        update["$set"] = .document(set)
        update["$inc"] = ["version": 1]
        let result = try await deliveries.updateOne(
            ["_id": .string(delivery.id), "lease_owner": .string(owner)], update: update)
        if result.matchedCount == 0 {
            logger.warning("webhook delivery lease lost before its attempt was logged", metadata: ["delivery": "\(delivery.id)"])
        }
    }
}

/// The webhook metrics: deliveries by outcome, attempt latency, retries pending, disabled endpoints.
struct WebhookMetrics: Sendable {
    let latency = Metrics.Timer(label: "billing_webhook_delivery_duration_seconds")
    let retriesPending = Gauge(label: "billing_webhook_retries_pending")
    let disabledEndpoints = Gauge(label: "billing_webhook_endpoints_disabled")

    func outcome(_ outcome: String) -> Counter {
        Counter(label: "billing_webhook_deliveries_total", dimensions: [("outcome", outcome)])
    }
}

extension Metrics.Timer {
    func recordMilliseconds(_ ms: Int) { recordNanoseconds(Int64(ms) * 1_000_000) }
}
