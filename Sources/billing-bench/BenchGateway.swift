import ArgumentParser
@_spi(Testing) import AuthService
import BillingCLI
import Foundation
import Gateway
import Hummingbird
import Logging
import MessageBus
import Redis
import Runtime
import ServiceLifecycle

/// `billing-bench gateway`: wrk against a real `billing-bench serve gateway` process and a real
/// `billing-bench serve worker test` (no-op handler), beside redis-benchmark's XADD rate in the same run.
struct BenchGateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "HTTP requests/s and p50/p99 (wrk) for the 202 accept path and a synchronous no-op GET, with RSS.")

    @Option(help: "wrk connections for the saturating runs.") var connections: Int = 50
    @Option(help: "Seconds per wrk run.") var seconds: Int = 10
    @Option(help: "Path of wrk.") var wrk: String = "/usr/bin/wrk"
    @Option(help: "Path of redis-benchmark.") var redisBenchmark: String = "/usr/bin/redis-benchmark"
    @Flag(help: "Log every request at debug level (slower) and print the gateway's answers by status after the runs.")
    var requestLog = false
    @Flag(help: "Record a perf profile of the gateway during the API-key accept run and print its top symbols.")
    var profile = false

    func run() async throws {
        let settings = try await loadSettings()
        let logger = Logger(label: "bench")
        let redis = try await Infrastructure.connectRedis(settings: settings, logger: logger)
        let prefix = "benchgw\(UUID().uuidString.prefix(6).lowercased())"
        let port = settings.httpPort
        let work = FileManager.default.temporaryDirectory.appendingPathComponent(prefix)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let wrk = Wrk(path: self.wrk, seconds: seconds)
        var processes: BenchProcesses?
        defer {
            processes?.stopAll()
            try? FileManager.default.removeItem(at: work)
        }

        // A token from the real auth service (its signing key, its JWKS in Redis), and an API key
        // record as auth publishes one.
        var benchSettings = settings
        benchSettings.streamPrefix = prefix
        let infrastructure = try await Infrastructure.connect(settings: benchSettings, logger: logger)
        defer { Task { await infrastructure.shutdown() } }
        let auth = try ServiceCatalog.auth(benchSettings, infrastructure: infrastructure)
        try await auth.keys.ensureKeyAndPublish(now: Date())
        let token = try await auth.accessTokenForTests(
            subject: "usr_bench", role: "admin", tenant: "default", scope: "test:use", now: Date())
        var gatewayConfiguration = GatewayConfiguration()
        gatewayConfiguration.names = StreamNames(prefix: prefix)
        let apiKey = "sk_test_bench\(UUID().uuidString.replacingOccurrences(of: "-", with: ""))"
        let record = #"{"subject":"key_bench","role":"admin","scopes":["test:use"],"tenant":"default"}"#
        _ = try await redis.send(
            SET(Authenticator(redis: redis, configuration: gatewayConfiguration).apiKeyKey(apiKey), value: RedisArgument(record)))

        // Raw XADD rate of the same Redis, same run.
        let rawXADD = try RedisBench.redisBenchmarkRate(
            redisBenchmark, redis.configuration, concurrency: 50, requests: 100_000, stream: prefix + ":raw")

        // The HTTP ceiling of this machine: a bare Hummingbird app answering the same POST with 202,
        // with no middleware and no Redis, saturated by the same wrk.
        let acceptRequest = Wrk.request(
            method: "POST", body: #"{"n":1}"#, headers: ["Authorization": "Bearer \(apiKey)", "Prefer": "respond-async"])
        let bare = try await bareHTTPCeiling(wrk, work: work, script: acceptRequest)

        // The gateway and a no-op worker as real processes.
        var environment = ProcessInfo.processInfo.environment
        environment["BILLING_STREAM_PREFIX"] = prefix
        environment["BILLING_RATE_LIMIT_PRINCIPAL"] = "1000000"
        environment["BILLING_RATE_LIMIT_IP"] = "1000000"
        // The shipped default level (info), as a user runs it; --request-log adds the per-request
        // lines of answers that went well (debug).
        environment["BILLING_LOG_LEVEL"] = requestLog ? "debug" : "info"
        environment["BILLING_CONSUMERS"] = "2"
        environment["BILLING_BATCH_SIZE"] = "64"
        let started = BenchProcesses(work: work, environment: environment)
        processes = started
        // Only the no-op service: production workers would consume the `operation.completed` events
        // of the 202s (webhook fan-out into MongoDB) and take CPU from the gateway on this machine.
        let worker = try started.spawn(["worker", "test"])
        let gateway = try started.spawn(["gateway"])
        // CPU per accepted request of each process: the gateway, the no-op worker, Redis.
        let redisProcess = processID(matching: "redis-server \(redis.configuration.host):\(redis.configuration.port)")
        let meter = CPUMeter(
            processes: [("gateway", gateway.processIdentifier), ("worker", worker.processIdentifier)]
                + (redisProcess.map { [("Redis", $0)] } ?? []))
        let base = "http://127.0.0.1:\(port)"
        try await waitUntilReady(base + "/readyz", checks: ["redis", "replies", "consumers:test"])

        // The gateway's own health route: the edge middleware and nothing else.
        let health = try wrk.run(
            url: base + "/healthz", connections: connections, work: work, name: "healthz",
            script: Wrk.request(method: "GET", body: nil, headers: [:]))
        // The 202 accept path (API key, as a third party ingesting would; then a JWT), saturated.
        let perf = profile ? try Perf.start(pid: gateway.processIdentifier, seconds: max(1, seconds - 1), work: work) : nil
        let acceptCPU = meter.sample()
        let accept = try wrk.run(
            url: base + "/v1/test/echo", connections: connections, work: work, name: "accept", script: acceptRequest)
        let acceptCost = meter.perRequest(since: acceptCPU, requests: accept.total)
        let profileSummary = try perf.map { try Perf.stop($0, work: work) }
        let acceptJWT = try wrk.run(
            url: base + "/v1/test/echo", connections: connections, work: work, name: "accept-jwt",
            script: Wrk.request(
                method: "POST", body: #"{"n":1}"#, headers: ["Authorization": "Bearer \(token)", "Prefer": "respond-async"]))
        // A GET answered synchronously by the worker (JWT), saturated, then at about half that rate.
        let getScript = Wrk.request(method: "GET", body: nil, headers: ["Authorization": "Bearer \(token)"])
        let sync = try wrk.run(url: base + "/v1/test/echo", connections: connections, work: work, name: "sync", script: getScript)
        let halfRate = max(1, sync.rate / 2)
        let paced = max(1, Int((halfRate * 0.010).rounded(.up)))  // connections for a ~10 ms interval each
        // Each connection waits `delay` ms between answers; the latency at half load is not known
        // before, so a short calibration run measures the rate a first guess gives and the delay
        // is corrected once (rate ∝ 1 / (delay + latency)).
        let interval = 1000 * Double(paced) / halfRate
        var delay = max(0, interval - 1)
        let calibration = try wrk.run(
            url: base + "/v1/test/echo", connections: paced, work: work, name: "calibrate",
            script: getScript + Wrk.delayFunction(delay), seconds: 3)
        let latency = max(0, 1000 * Double(paced) / max(1, calibration.rate) - delay)
        delay = max(0, interval - latency)
        let half = try wrk.run(
            url: base + "/v1/test/echo", connections: paced, work: work, name: "half",
            script: getScript + Wrk.delayFunction(delay))
        let (rss, peak) = processMemory(of: gateway.processIdentifier)
        var statuses: [String: Int] = [:]
        if requestLog, let log = try? String(contentsOf: work.appendingPathComponent("gateway.log"), encoding: .utf8) {
            for line in log.split(separator: "\n") where line.contains(#""msg":"request""#) {
                let status = line.firstMatch(of: /"status":"(\d+)"/).map { String($0.1) } ?? "?"
                statuses[status, default: 0] += 1
            }
        }

        _ = try? await redis.deleteKeys(prefix: prefix + ":")
        await redis.shutdown()

        print("billing-bench gateway: wrk \(seconds)s runs, \(connections) connections; one gateway process, one worker (2 consumers)")
        print(String(format: "  raw XADD (redis-benchmark -c 50)   %9.0f /s", rawXADD))
        print(bare.line("bare Hummingbird POST → 202") + String(format: "   %.2fx raw XADD (no middleware, no Redis)", bare.rate / rawXADD))
        print(health.line("GET /healthz") + String(format: "   %.2fx bare (target ≥ 0.80)", health.rate / bare.rate))
        print(accept.line("POST accept path (202, API key)") + String(format: "   %.2fx bare (target ≥ 0.50)", accept.rate / bare.rate))
        print("      CPU per accepted request: " + acceptCost)
        print(acceptJWT.line("POST accept path (202, JWT)") + String(format: "   %.2fx bare (target ≥ 0.50)", acceptJWT.rate / bare.rate))
        print(sync.line("GET sync no-op (JWT), max"))
        print(half.line(String(format: "GET sync at ~half max (%d conn)", paced)) + "   (target p50 ≤ 2 ms)")
        print(String(format: "  gateway RSS after the runs %.1f MiB, peak %.1f MiB (target ≤ 80)", rss, peak))
        if let profileSummary {
            print("  perf profile of the gateway during the API-key accept run (self time, top symbols):")
            print(profileSummary)
        }
        if requestLog {
            print("  answers by status: " + statuses.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
        }
    }

    /// A Hummingbird application with one route that reads the body and answers 202, in this
    /// process on a free port, driven by wrk like the gateway: what HTTP alone costs on this machine.
    func bareHTTPCeiling(_ wrk: Wrk, work: URL, script: String) async throws -> WrkResult {
        let router = Router()
        router.post("/v1/test/echo") { request, _ -> Response in
            _ = try await request.body.collect(upTo: 1 << 20)
            return Response(status: .accepted)
        }
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) },
            logger: Logger(label: "bench.bare", factory: { _ in SwiftLogNoOpLogHandler() }))
        let group = ServiceGroup(services: [app], logger: Logger(label: "bench.bare"))
        let server = Task { try await group.run() }
        defer { server.cancel() }
        var ports = portStream.makeAsyncIterator()
        guard let port = await ports.next(), port > 0 else { throw ValidationError("the bare HTTP server did not start") }
        let result = try wrk.run(
            url: "http://127.0.0.1:\(port)/v1/test/echo", connections: connections, work: work, name: "bare",
            script: script)
        await group.triggerGracefulShutdown()
        _ = try? await server.value
        return result
    }

}

