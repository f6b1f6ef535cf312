import ArgumentParser
import BillingCLI
import Foundation
import Redis
import Runtime

/// `billing-bench …`: benchmarks that print figures next to the raw server rates of the same run,
/// and `serve`, the `billing` process roles with the diagnostic `test` service they load.
/// A development tool: none of it ships in `billing`.
struct BillingBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "billing-bench",
        abstract: "Benchmarks that print figures beside raw server rates.",
        subcommands: [
            RedisBench.self, BenchStreams.self, BenchGateway.self, BenchCustomers.self, BenchWebhooks.self, BenchWrites.self, Serve.self,
        ])
}

struct RedisBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redis",
        abstract: "XADD through the Swift client at N concurrent callers, beside redis-benchmark's rate.")

    @Option(help: "Redis URL (default: BILLING_REDIS_URL).") var redisURL: String?
    @Option(help: "XADDs to send.") var requests: Int = 200_000
    @Option(help: "Concurrent callers (redis-benchmark -c).") var concurrency: Int = 50
    @Option(help: "Pipelined connections in the client.") var connections: Int = 2
    @Option(help: "Path of redis-benchmark; empty to skip it.") var redisBenchmark: String = "/usr/bin/redis-benchmark"

    func run() async throws {
        let settings = try await loadSettings()
        var configuration = try RedisConfiguration(url: redisURL ?? settings.redisURL)
        configuration.connectionCount = connections
        let redis = RedisClient(configuration: configuration)
        let stream = "bench:swift:\(UUID().uuidString.prefix(8))"
        defer { Task { await redis.shutdown() } }

        // Warm up connections and the server.
        try await hammer(redis, stream: stream, total: min(requests, 10_000))
        _ = try await redis.send(DEL(stream))

        let started = ContinuousClock.now
        let latencies = try await hammer(redis, stream: stream, total: requests)
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let swiftRate = Double(requests) / seconds
        _ = try await redis.send(DEL(stream))

        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }

        print("billing-bench redis: \(requests) XADDs, \(concurrency) concurrent callers, \(connections) connections")
        print(String(format: "  swift client     %10.0f ops/s   p50 %.3f ms   p99 %.3f ms", swiftRate, percentile(0.5), percentile(0.99)))
        if !redisBenchmark.isEmpty {
            let rawStream = "bench:raw:\(UUID().uuidString.prefix(8))"
            let raw = try Self.redisBenchmarkRate(
                redisBenchmark, configuration, concurrency: concurrency, requests: requests, stream: rawStream)
            _ = try await redis.send(DEL(rawStream))
            print(String(format: "  redis-benchmark  %10.0f ops/s   (-c %d -n %d XADD)", raw, concurrency, requests))
            print(String(format: "  ratio            %10.2f x  (target ≥ 0.70)", swiftRate / raw))
        }
    }

    /// Sends `total` XADDs from `concurrency` tasks; returns each call's latency in milliseconds.
    @discardableResult
    private func hammer(_ redis: RedisClient, stream: String, total: Int) async throws -> [Double] {
        let perTask = total / concurrency
        let remainder = total % concurrency
        return try await withThrowingTaskGroup(of: [Double].self) { group in
            for worker in 0..<concurrency {
                let count = perTask + (worker < remainder ? 1 : 0)
                group.addTask {
                    var latencies = [Double]()
                    latencies.reserveCapacity(count)
                    let command = XADD(stream, fields: [("f", "v")])
                    for _ in 0..<count {
                        let start = ContinuousClock.now
                        _ = try await redis.send(command)
                        let d = ContinuousClock.now - start
                        latencies.append(Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000)
                    }
                    return latencies
                }
            }
            var all = [Double]()
            all.reserveCapacity(total)
            for try await part in group { all.append(contentsOf: part) }
            return all
        }
    }

    /// Runs `redis-benchmark … XADD stream * f v` and returns its requests per second.
    static func redisBenchmarkRate(
        _ redisBenchmark: String, _ configuration: RedisConfiguration, concurrency: Int, requests: Int, stream: String
    ) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: redisBenchmark)
        var arguments = ["-h", configuration.host, "-p", "\(configuration.port)", "-c", "\(concurrency)", "-n", "\(requests)", "-q"]
        if let password = configuration.password { arguments += ["-a", password] }
        if configuration.database != 0 { arguments += ["--dbnum", "\(configuration.database)"] }
        process.arguments = arguments + ["XADD", stream, "*", "f", "v"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = Pipe()
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        // "XADD bench * f v: 81300.81 requests per second, p50=0.311 msec"
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
        for line in lines where line.contains("requests per second") {
            if let rate = line.split(separator: ":").last?.split(separator: " ").first.flatMap({ Double($0) }) {
                return rate
            }
        }
        throw ValidationError("could not read redis-benchmark's rate from: \(text)")
    }
}
