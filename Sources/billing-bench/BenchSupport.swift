import ArgumentParser
import Foundation
import MessageBus
import Runtime

// What the whole-process benchmarks (`gateway`, `writes`) share: wrk runs, perf profiles, the
// `billing-bench serve …` processes they start, readiness and memory.

/// One wrk run's figures.
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

/// wrk, driven by a Lua script, with its output read back.
struct Wrk {
    var path: String
    var seconds: Int

    /// A wrk Lua script sending one fixed request.
    static func request(method: String, body: String?, headers: [String: String]) -> String {
        var lines = ["wrk.method = \"\(method)\""]
        if let body {
            lines.append("wrk.body = '\(body)'")
            lines.append("wrk.headers[\"Content-Type\"] = \"application/json\"")
        }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { lines.append("wrk.headers[\"\(name)\"] = \"\(value)\"") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// wrk's per-request delay hook, in whole milliseconds (wrk's unit) when at least 1; below that, 0.
    static func delayFunction(_ milliseconds: Double) -> String {
        "\nfunction delay()\n  return \(Int(milliseconds.rounded()))\nend\n"
    }

    func run(url: String, connections: Int, work: URL, name: String, script: String, seconds: Int? = nil) throws -> WrkResult {
        let scriptURL = work.appendingPathComponent("\(name).lua")
        try script.write(to: scriptURL, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
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
        guard process.terminationStatus == 0, let result = Self.parse(text) else {
            throw ValidationError("wrk failed (\(process.terminationStatus)):\n\(text)")
        }
        return result
    }

    /// Reads `Requests/sec`, the 50% and 99% latency lines and the error counts of wrk's output.
    static func parse(_ text: String) -> WrkResult? {
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
}

/// `perf record -g` on a process for `seconds` (it stops by itself: a signal from here would not
/// reach it reliably); ``stop(_:work:)`` waits for it and reads the report.
enum Perf {
    static func start(pid: Int32, seconds: Int, work: URL, name: String = "perf") throws -> Process {
        let process = Process()
        // perf waits for its workload's SIGCHLD, which this process's threads block (and a child
        // inherits the mask): python3 clears the mask and execs perf.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [
            "-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
            "/usr/bin/perf", "record", "-F", "499", "-g", "-o", work.appendingPathComponent("\(name).data").path, "-p", "\(pid)", "--", "/bin/sleep",
            "\(seconds)",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Stops the recording and returns the top symbols by self time (`perf report --no-children`).
    static func stop(_ perf: Process, work: URL, name: String = "perf") throws -> String {
        perf.waitUntilExit()
        let report = Process()
        report.executableURL = URL(fileURLWithPath: "/usr/bin/perf")
        report.arguments = [
            "report", "-i", work.appendingPathComponent("\(name).data").path, "--no-children", "--sort", "dso,symbol",
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
}

/// `billing-bench serve …` processes with one environment, each logging to its own file in `work`;
/// ``stopAll()`` terminates whatever is still running and waits for it.
final class BenchProcesses {
    let work: URL
    var environment: [String: String]
    private(set) var processes: [Process] = []
    private let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()

    init(work: URL, environment: [String: String]) {
        self.work = work
        self.environment = environment
    }

    @discardableResult
    func spawn(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = binary
        process.arguments = ["serve"] + arguments
        process.environment = environment
        let log = work.appendingPathComponent("\(arguments.joined(separator: "-")).log")
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardError = handle
        try process.run()
        processes.append(process)
        return process
    }

    /// Runs a one-shot role (e.g. `migrate`) to its end; throws when it fails.
    func runToEnd(_ arguments: [String]) throws {
        let process = try spawn(arguments)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("`billing \(arguments.joined(separator: " "))` failed (\(process.terminationStatus)); see \(work.path)")
        }
    }

    /// SIGTERM (a graceful drain), then waits for the exit.
    func stop(_ process: Process) {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    func stopAll() {
        for process in processes { stop(process) }
    }
}

/// Polls `url` (a `/readyz`) until every named check answers "ok", for up to 30 s.
func waitUntilReady(_ url: String, checks: [String]) async throws {
    for _ in 0..<300 {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = ["-s", url]
        let output = Pipe()
        curl.standardOutput = output
        try curl.run()
        let body = output.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        if let found = JSONReader.value(Array(body))?["checks"], checks.allSatisfy({ found[$0]?.stringValue == "ok" }) {
            return
        }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw ValidationError("\(url) did not report \(checks.joined(separator: ", ")) ready within 30 s")
}

/// VmRSS and VmHWM of a process, in MiB.
func processMemory(of pid: Int32) -> (rss: Double, peak: Double) {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (0, 0) }
    func field(_ name: String) -> Double {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
        return (Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0) / 1024
    }
    return (field("VmRSS"), field("VmHWM"))
}

/// CPU time (user + system) a process has used, in seconds (`/proc/<pid>/stat`, clock ticks of 1/100 s).
func cpuSeconds(of pid: Int32) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let end = stat.lastIndex(of: ")")
    else { return 0 }
    // After "pid (comm)": state is field 3; utime and stime are fields 14 and 15.
    let fields = stat[stat.index(after: end)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / 100
}

/// The oldest process whose command line matches `pattern` (`pgrep -f -o`), e.g. a server on its port.
func processID(matching pattern: String) -> Int32? {
    let pgrep = Process()
    pgrep.executableURL = URL(fileURLWithPath: "/usr/bin/pgrep")
    pgrep.arguments = ["-f", "-o", pattern]
    let output = Pipe()
    pgrep.standardOutput = output
    guard (try? pgrep.run()) != nil else { return nil }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    pgrep.waitUntilExit()
    return Int32(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
}

/// CPU seconds of named processes between two samples: where a run's time went, per process.
struct CPUMeter {
    var processes: [(name: String, pid: Int32)]

    func sample() -> [Double] { processes.map { cpuSeconds(of: $0.pid) } }

    /// "name 1.23 ms, …" of CPU per request between `before` and now.
    func perRequest(since before: [Double], requests: Int) -> String {
        zip(processes, zip(sample(), before)).map { process, values in
            String(format: "%@ %.3f ms", process.name, 1000 * (values.0 - values.1) / Double(max(1, requests)))
        }.joined(separator: ", ")
    }
}
