import Foundation
import Testing

/// What every integration test target takes from `scripts/test`: the URLs of the servers it
/// started, the built `billing` binary, and the repository's files. One copy for all test targets.
public enum TestServers {
    /// A server URL `scripts/test` should have exported is missing.
    public struct MissingServer: Error, CustomStringConvertible {
        public let variable: String
        public var description: String { "\(variable) is not set: run the tests with scripts/test" }
    }

    /// The checkout's root (for `schemas/` and the like).
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The URL in `variable` (`BILLING_TEST_REDIS_URL`, `BILLING_TEST_MONGO_URL`). Missing, it is a
    /// recorded failure, not a skip: integration tests must run against the real servers.
    public static func url(_ variable: String, hint: String = "") throws -> String {
        guard let url = ProcessInfo.processInfo.environment[variable], !url.isEmpty else {
            Issue.record("\(variable) is not set: run the tests with scripts/test, which starts the servers\(hint)")
            throw MissingServer(variable: variable)
        }
        return url
    }

    /// The MongoDB URL of the test server with `database` as its path (query options kept).
    public static func mongoURL(database: String) throws -> String {
        let url = try url("BILLING_TEST_MONGO_URL")
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let hostEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        let query = rest.firstIndex(of: "?").map { String(rest[$0...]) } ?? ""
        return String(url[..<hostEnd]) + "/" + database + query
    }

    /// A built executable of this package (`billing`), beside the test runner or in `BILLING_TEST_BIN_DIR`.
    public static func binary(_ name: String) throws -> URL {
        let env = ProcessInfo.processInfo.environment
        var candidates: [URL] = []
        if let dir = env["BILLING_TEST_BIN_DIR"] { candidates.append(URL(fileURLWithPath: dir).appendingPathComponent(name)) }
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        candidates.append(runner.appendingPathComponent(name))
        candidates.append(runner.deletingLastPathComponent().appendingPathComponent(name))
        for url in candidates where FileManager.default.isExecutableFile(atPath: url.path) { return url }
        throw MissingServer(variable: "the \(name) binary (BILLING_TEST_BIN_DIR); run the tests with scripts/test")
    }
}

extension TestServers {
    /// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
    public static func eventually(timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    /// The worker process could not be started (its log's tail says why).
    public struct WorkerDidNotStart: Error, CustomStringConvertible {
        public let description: String
    }

    /// Starts `billing worker <services>` as a real process against the test servers (the given
    /// stream prefix and database, logging to a temporary file), and returns once it logs that it
    /// is ready: the process and its log.
    public static func startWorker(
        _ services: [String], prefix: String, database: String, environment extra: [String: String] = [:]
    ) async throws -> (Process, URL) {
        let process = Process()
        // The diagnostic `test` service lives in the development binary only.
        if services.contains("test") {
            process.executableURL = try binary("billing-bench")
            process.arguments = ["serve", "worker"] + services
        } else {
            process.executableURL = try binary("billing")
            process.arguments = ["worker"] + services
        }
        var environment = ProcessInfo.processInfo.environment
        environment["BILLING_REDIS_URL"] = try url("BILLING_TEST_REDIS_URL")
        environment["BILLING_MONGO_URL"] = try mongoURL(database: database)
        environment["BILLING_STREAM_PREFIX"] = prefix
        environment["BILLING_LOG_LEVEL"] = "info"
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("worker-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let ready = await eventually(timeout: .seconds(30)) {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            return text.contains("\"msg\":\"worker ready\"") || !process.isRunning
        }
        guard ready, process.isRunning else {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                await ChildProcess.waitForExit(process)
            }
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw WorkerDidNotStart(description: "billing worker \(services.joined(separator: " ")) did not start: \(text.suffix(2000))")
        }
        return (process, log)
    }
}
