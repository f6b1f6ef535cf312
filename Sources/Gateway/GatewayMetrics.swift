import Prometheus
import Synchronization

/// The gateway's Prometheus series, on a registry of its own (served at `/metrics`).
public final class GatewayMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let inFlight: Gauge
    private let timeouts: Counter
    static let buckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5),
        .seconds(5), .seconds(10), .seconds(30),
    ]

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "billing", subsystem: "gateway", metricName: metric, unitName: unit, helpText: help)
    }

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        inFlight = registry.makeGauge(descriptor: Self.name("requests_in_flight", "count", "HTTP requests being served"))
        timeouts = registry.makeCounter(
            descriptor: Self.name("reply_timeouts", "total", "Requests answered 202 because the reply did not come in time"))
    }

    func started() { inFlight.increment() }

    /// Series handles by route (and route + status), made once: the registry's lookup builds its
    /// label key on every call, which showed up in profiles. Routes come from the route table, so
    /// the set is bounded.
    private struct RouteStatus: Hashable {
        var route: String
        var status: Int
    }
    private let requestCounters = Mutex<[RouteStatus: Counter]>([:])
    private let durationHistograms = Mutex<[String: DurationHistogram]>([:])

    func finished(route: String, status: Int, duration: Duration) {
        inFlight.decrement()
        let counterKey = RouteStatus(route: route, status: status)
        let counter = requestCounters.withLock { counters in
            if let known = counters[counterKey] { return known }
            let made = registry.makeCounter(
                descriptor: Self.name("requests", "total", "HTTP requests by route and status"),
                labels: [("route", route), ("status", String(status))])
            counters[counterKey] = made
            return made
        }
        counter.increment()
        let histogram = durationHistograms.withLock { histograms in
            if let known = histograms[route] { return known }
            let made = registry.makeDurationHistogram(
                descriptor: Self.name("request_duration", "seconds", "HTTP request latency by route"),
                labels: [("route", route)], buckets: Self.buckets)
            histograms[route] = made
            return made
        }
        histogram.record(duration)
    }

    func rateLimited(tier: String) {
        registry.makeCounter(
            descriptor: Self.name("rate_limited", "total", "Requests refused with 429 by tier"), labels: [("tier", tier)]
        ).increment()
    }

    func streamFull(tier: String) {
        registry.makeCounter(
            descriptor: Self.name("stream_full", "total", "Requests refused with 503 because the command stream was at its capacity"),
            labels: [("tier", tier)]
        ).increment()
    }

    func replyTimedOut() { timeouts.increment() }

    /// Prometheus text exposition.
    public func render() -> [UInt8] { registry.emitToBuffer() }
}
