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
        var processes: [Process] = []
        defer {
            for process in processes where process.isRunning { process.terminate() }
            for process in processes { process.waitUntilExit() }
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
        let acceptRequest = request(
            method: "POST", body: #"{"n":1}"#, headers: ["Authorization": "Bearer \(apiKey)", "Prefer": "respond-async"])
        let bare = try await bareHTTPCeiling(work: work, script: acceptRequest)

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
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        func spawn(_ arguments: [String]) throws -> Process {
            let process = Process()
            process.executableURL = binary
            process.arguments = arguments
            process.environment = environment
            let log = work.appendingPathComponent("\(arguments.joined(separator: "-")).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: log)
            try process.run()
            processes.append(process)
            return process
        }
        // Only the no-op service: production workers would consume the `operation.completed` events
        // of the 202s (webhook fan-out into MongoDB) and take CPU from the gateway on this machine.
        _ = try spawn(["serve", "worker", "test"])
        let gateway = try spawn(["serve", "gateway"])
        let base = "http://127.0.0.1:\(port)"
        try await waitUntilReady(base + "/readyz")

        // The gateway's own health route: the edge middleware and nothing else.
        let health = try runWrk(
            url: base + "/healthz", connections: connections, work: work, name: "healthz",
            script: request(method: "GET", body: nil, headers: [:]))
        // The 202 accept path (API key, as a third party ingesting would; then a JWT), saturated.
        let perf = profile ? try Self.startPerf(pid: gateway.processIdentifier, seconds: max(1, seconds - 1), work: work) : nil
        let accept = try runWrk(
            url: base + "/v1/test/echo", connections: connections, work: work, name: "accept", script: acceptRequest)
        let profileSummary = try perf.map { try Self.stopPerf($0, work: work) }
        let acceptJWT = try runWrk(
            url: base + "/v1/test/echo", connections: connections, work: work, name: "accept-jwt",
            script: request(
                method: "POST", body: #"{"n":1}"#, headers: ["Authorization": "Bearer \(token)", "Prefer": "respond-async"]))
        // A GET answered synchronously by the worker (JWT), saturated, then at about half that rate.
        let getScript = request(method: "GET", body: nil, headers: ["Authorization": "Bearer \(token)"])
        let sync = try runWrk(url: base + "/v1/test/echo", connections: connections, work: work, name: "sync", script: getScript)
        let halfRate = max(1, sync.rate / 2)
        let paced = max(1, Int((halfRate * 0.010).rounded(.up)))  // connections for a ~10 ms interval each
        // Each connection waits `delay` ms between answers; the latency at half load is not known
        // before, so a short calibration run measures the rate a first guess gives and the delay
        // is corrected once (rate ∝ 1 / (delay + latency)).
        let interval = 1000 * Double(paced) / halfRate
        var delay = max(0, interval - 1)
        let calibration = try runWrk(
            url: base + "/v1/test/echo", connections: paced, work: work, name: "calibrate",
            script: getScript + Self.delayFunction(delay), seconds: 3)
        let latency = max(0, 1000 * Double(paced) / max(1, calibration.rate) - delay)
        delay = max(0, interval - latency)
        let half = try runWrk(
            url: base + "/v1/test/echo", connections: paced, work: work, name: "half",
            script: getScript + Self.delayFunction(delay))
        let (rss, peak) = Self.memory(of: gateway.processIdentifier)
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
    func bareHTTPCeiling(work: URL, script: String) async throws -> WrkResult {
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
        let result = try runWrk(
            url: "http://127.0.0.1:\(port)/v1/test/echo", connections: connections, work: work, name: "bare",
            script: script)
        await group.triggerGracefulShutdown()
        _ = try? await server.value
        return result
    }

    /// `perf record -g` on a process for `seconds` (it stops by itself: a signal from here would
    /// not reach it reliably); ``stopPerf(_:work:)`` waits for it and reads the report.
    static func startPerf(pid: Int32, seconds: Int, work: URL) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/perf")
        process.arguments = ["record", "-F", "499", "-g", "-o", work.appendingPathComponent("perf.data").path, "-p", "\(pid)", "--", "/bin/sleep", "\(seconds)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Stops the recording and returns the top symbols by self time (`perf report --no-children`).
    static func stopPerf(_ perf: Process, work: URL) throws -> String {
        perf.waitUntilExit()
        let report = Process()
        report.executableURL = URL(fileURLWithPath: "/usr/bin/perf")
        report.arguments = [
            "report", "-i", work.appendingPathComponent("perf.data").path, "--no-children", "--sort", "dso,symbol",
            "--stdio", "-g", "none", "--percent-limit", "0.7",
        ]
        let output = Pipe()
        report.standardOutput = output
        report.standardError = FileHandle.nullDevice
        try report.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        report.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n")
            .filter { !$0.hasPrefix("#") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            .prefix(45).map { "    " + $0.prefix(150) }.joined(separator: "\n")
    }

    /// wrk's per-request delay hook, in whole milliseconds (wrk's unit) when at least 1; below that, 0.
    static func delayFunction(_ milliseconds: Double) -> String {
        "\nfunction delay()\n  return \(Int(milliseconds.rounded()))\nend\n"
    }

    /// A wrk Lua script sending one fixed request.
    func request(method: String, body: String?, headers: [String: String]) -> String {
        var lines = ["wrk.method = \"\(method)\""]
        if let body {
            lines.append("wrk.body = '\(body)'")
            lines.append("wrk.headers[\"Content-Type\"] = \"application/json\"")
        }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { lines.append("wrk.headers[\"\(name)\"] = \"\(value)\"") }
        return lines.joined(separator: "\n") + "\n"
    }

    struct WrkResult {
        var rate: Double
        var p50: Double
        var p99: Double
        var errors: Int
        var total: Int

        func line(_ label: String) -> String {
            let padded = label.padding(toLength: 34, withPad: " ", startingAt: 0)
            return String(format: "  %@ %9.0f /s   p50 %.2f ms  p99 %.2f ms  (%d requests, %d non-2xx)", padded, rate, p50, p99, total, errors)
        }
    }

    func runWrk(url: String, connections: Int, work: URL, name: String, script: String, seconds: Int? = nil) throws
        -> WrkResult
    {
        let scriptURL = work.appendingPathComponent("\(name).lua")
        try script.write(to: scriptURL, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: wrk)
        process.arguments = [
            "-t", "\(min(2, connections))", "-c", "\(connections)", "-d", "\(seconds ?? self.seconds)s", "--latency", "-s", scriptURL.path, url,
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0, let result = Self.parseWrk(text) else {
            throw ValidationError("wrk failed (\(process.terminationStatus)):\n\(text)")
        }
        return result
    }

    /// Reads `Requests/sec`, the 50% and 99% latency lines and the error counts of wrk's output.
    static func parseWrk(_ text: String) -> WrkResult? {
        func duration(_ token: Substring) -> Double? {
            for (unit, factor) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)] where token.hasSuffix(unit) {
                if let value = Double(token.dropLast(unit.count)) { return value * factor }
            }
            return nil
        }
        var rate: Double?
        var p50: Double?
        var p99: Double?
        var errors = 0
        var total = 0
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = fields.first else { continue }
            if first == "Requests/sec:", fields.count > 1 { rate = Double(fields[1]) }
            if first == "50%", fields.count > 1 { p50 = duration(fields[1]) }
            if first == "99%", fields.count > 1 { p99 = duration(fields[1]) }
            if line.contains("Non-2xx or 3xx responses:"), let last = fields.last { errors += Int(last) ?? 0 }
            if line.contains("requests in"), let count = Int(first) { total = count }
            if first == "Socket", line.contains("errors:") {
                errors += fields.compactMap { Int($0.trimmingCharacters(in: .punctuationCharacters)) }.reduce(0, +)
            }
        }
        guard let rate, let p50, let p99 else { return nil }
        return WrkResult(rate: rate, p50: p50, p99: p99, errors: errors, total: total)
    }

    /// Polls `/readyz` until Redis, the reply loop and the `test` group's consumer are ready (the
    /// production groups, not run here, stay "no live consumer"), for up to 30 s.
    func waitUntilReady(_ url: String) async throws {
        for _ in 0..<300 {
            let curl = Process()
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            curl.arguments = ["-s", url]
            let output = Pipe()
            curl.standardOutput = output
            try curl.run()
            let body = output.fileHandleForReading.readDataToEndOfFile()
            curl.waitUntilExit()
            if let checks = JSONReader.value(Array(body))?["checks"],
                ["redis", "replies", "consumers:test"].allSatisfy({ checks[$0]?.stringValue == "ok" })
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ValidationError("the gateway did not become ready at \(url) within 30 s")
    }

    /// VmRSS and VmHWM of a process, in MiB.
    static func memory(of pid: Int32) -> (Double, Double) {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (0, 0) }
        func field(_ name: String) -> Double {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return (Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0) / 1024
        }
        return (field("VmRSS"), field("VmHWM"))
    }
}

