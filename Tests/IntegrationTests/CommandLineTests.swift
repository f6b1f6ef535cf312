import Foundation
import Gateway
import MessageBus
import Mongo
import Redis
import Testing
import TestService
import TestSupport

/// The `billing` binary as an operator runs it.
@Suite("billing command line", .serialized)
struct CommandLineTests {
    struct Run {
        var status: Int32
        var output: String
        var errors: String
    }

    static func billing(_ arguments: [String], environment extra: [String: String]) async throws -> Run {
        try await run("billing", arguments, environment: extra)
    }

    /// The development binary's `serve`: `billing` with the diagnostic `test` service.
    static func dev(_ arguments: [String], environment extra: [String: String]) async throws -> Run {
        try await run("billing-bench", ["serve"] + arguments, environment: extra)
    }

    static func run(_ binary: String, _ arguments: [String], environment extra: [String: String]) async throws -> Run {
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in extra { environment[key] = value }
        let run = try await ChildProcess.run(try TestServers.binary(binary), arguments, environment: environment)
        return Run(
            status: run.status, output: String(decoding: run.output, as: UTF8.self),
            errors: String(decoding: run.errors, as: UTF8.self))
    }

    static func environment(_ h: MessagingHarness) throws -> [String: String] {
        [
            "BILLING_REDIS_URL": try RedisTestEnvironment.url(),
            "BILLING_MONGO_URL": try TestServers.mongoURL(database: h.database.name),
            "BILLING_STREAM_PREFIX": h.names.prefix,
        ]
    }

    @Test func allFailsFastNamingTheUnreachableServer() async throws {
        let port = try FreePort.find()
        let run = try await Self.billing(
            ["all"], environment: ["BILLING_REDIS_URL": "redis://:secret-pw@127.0.0.1:\(port)", "BILLING_MONGO_URL": "mongodb://127.0.0.1:1/x"])
        #expect(run.status != 0)
        #expect(run.errors.contains("cannot reach Redis at redis://:***@127.0.0.1:\(port)"))
        #expect(run.errors.contains("BILLING_REDIS_URL"))
        #expect(!run.errors.contains("secret-pw"), "the password must never be printed")
    }

    @Test func developmentModeRefusesToListenBeyondLoopback() async throws {
        let run = try await Self.billing(["gateway"], environment: ["BILLING_HTTP_HOST": "0.0.0.0"])
        #expect(run.status != 0)
        #expect(run.errors.contains("BILLING_HTTP_HOST") && run.errors.contains("not a loopback address"), "\(run.errors)")
        let production = try await Self.billing(
            ["gateway"], environment: ["BILLING_HTTP_HOST": "0.0.0.0", "BILLING_MODE": "production", "BILLING_REDIS_URL": "redis://127.0.0.1:1"])
        #expect(!production.errors.contains("not a loopback address"), "production may listen anywhere: \(production.errors)")
    }

    @Test func aBadSettingStopsTheProcessNamingTheVariable() async throws {
        let run = try await Self.billing(["all"], environment: ["BILLING_HTTP_PORT": "eighty"])
        #expect(run.status != 0)
        #expect(run.errors.contains("BILLING_HTTP_PORT") && run.errors.contains("eighty"))
    }

    @Test func adminBootstrapPrintsThePasswordOnceAndRotateKeysAddsAKey() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        let environment = try Self.environment(h)
        // An address login would refuse is refused here too: a first admin must be able to sign in.
        let unusable = try await Self.billing(["admin", "bootstrap", "--email", "admin@localhost"], environment: environment)
        #expect(unusable.status != 0 && unusable.errors.contains("'admin@localhost' is not an email address"), "\(unusable.errors)")
        let first = try await Self.billing(["admin", "bootstrap", "--email", "Root@Example.com"], environment: environment)
        #expect(first.status == 0, "\(first.errors)")
        let password = try #require(
            first.output.split(separator: "\n").first { $0.hasPrefix("password:") }.map {
                $0.dropFirst("password:".count).trimmingCharacters(in: .whitespaces)
            })
        #expect(password.count == 24)
        #expect(first.output.contains("root@example.com"))
        #expect(!first.errors.contains(password), "the password goes to stdout once, never to the logs")
        let second = try await Self.billing(["admin", "bootstrap"], environment: environment)
        #expect(second.status == 0)
        #expect(second.output.contains("already has an admin") && !second.output.contains("password:"))
        let admins = try await h.database.collection("users", as: BSONDocument.self).find(["role": "admin"])
        #expect(admins.count == 1)
        #expect(admins.first?["password"]?.documentValue?["log_n"]?.intValue == 15)

        // Production mode refuses to run auth without the key that seals signing keys.
        var production = environment
        production["BILLING_MODE"] = "production"
        let refused = try await Self.billing(["admin", "rotate-keys"], environment: production)
        #expect(refused.status != 0)
        #expect(refused.errors.contains("BILLING_AUTH_KEY_ENCRYPTION_KEY"))
        let rotated = try await Self.billing(["admin", "rotate-keys"], environment: environment)
        #expect(rotated.status == 0, "\(rotated.errors)")
        let rotatedAgain = try await Self.billing(["admin", "rotate-keys"], environment: environment)
        #expect(rotatedAgain.status == 0)
        let keys = try await h.database.collection("signing_keys", as: BSONDocument.self).find([:])
        #expect(keys.count == 2)
        #expect(keys.filter { $0["status"]?.stringValue == "active" }.count == 1)
        let jwks = try await h.redis.send(GET("\(h.names.prefix):auth:jwks")).map { String(decoding: $0, as: UTF8.self) }
        #expect(keys.allSatisfy { jwks?.contains($0["_id"]?.stringValue ?? "?") == true })
    }

    @Test func allReportsReadyAndStopsCleanlyOnSIGTERM() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        let process = Process()
        process.executableURL = try TestServers.binary("billing")
        process.arguments = ["all"]
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in try Self.environment(h) { environment[key] = value }
        environment["BILLING_HTTP_PORT"] = "0"
        process.environment = environment
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("all-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        let ready = await h.eventually(timeout: .seconds(30)) {
            ((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("\"msg\":\"ready\"")
        }
        #expect(ready)
        let line = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").first { $0.contains("\"msg\":\"ready\"") }
        let object = try line.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] } ?? nil
        #expect(object?["redis"] as? String != nil && object?["mongo"] as? String != nil)
        kill(process.processIdentifier, SIGTERM)
        #expect(await h.eventually(timeout: .seconds(20)) { !process.isRunning })
        #expect(process.terminationStatus == 0)
    }

    /// `curl` (installed by scripts/setup): status code and body of one request.
    static func curl(_ arguments: [String]) async throws -> (Int, String) {
        let finished = try await ChildProcess.run(
            URL(fileURLWithPath: "/usr/bin/curl"), ["-s", "-w", "\n%{http_code}", "--max-time", "10"] + arguments)
        let run = String(decoding: finished.output, as: UTF8.self)
        let lines = run.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    @Test func gatewayAndWorkerProcessesAnswerARequestEndToEnd() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        let port = try FreePort.find()
        var environment = try Self.environment(h)
        environment["BILLING_HTTP_PORT"] = "\(port)"
        // An API key as the auth service would store it (hash of the key → principal).
        let key = "sk_test_cli\(UUID().uuidString.prefix(8).lowercased())"
        var configuration = GatewayConfiguration()
        configuration.names = h.names
        let record = #"{"subject":"key_cli","role":"admin","scopes":["test:use"],"tenant":"default"}"#
        _ = try await h.redis.send(
            SET(Authenticator(redis: h.redis, configuration: configuration).apiKeyKey(key), value: RedisArgument(record)))

        var processes: [Process] = []
        defer { for process in processes where process.isRunning { process.terminate() } }
        // /readyz also waits for a consumer of every production service.
        for arguments in [["worker", "test", "auth", "customer", "plan", "subscription", "invoice", "webhook"], ["gateway"]] {
            let process = Process()
            process.executableURL = try TestServers.binary("billing-bench")
            process.arguments = ["serve"] + arguments
            var merged = ProcessInfo.processInfo.environment
            for (k, v) in environment { merged[k] = v }
            process.environment = merged
            process.standardError = FileHandle.nullDevice
            try process.run()
            processes.append(process)
        }
        let base = "http://127.0.0.1:\(port)"
        #expect(await h.eventually(timeout: .seconds(30)) { (try? await Self.curl([base + "/readyz"]))?.0 == 200 })
        let (health, _) = try await Self.curl([base + "/healthz"])
        #expect(health == 200)
        let (status, body) = try await Self.curl(["-H", "X-Api-Key: \(key)", base + "/v1/test/echo"])
        #expect(status == 200, "body: \(body)")
        let echoed = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        // The worker echoes the command's payload: path parameters, query and body.
        #expect(echoed?["path"] as? [String: Any] != nil && echoed?["query"] as? [String: Any] != nil)
        let (refused, _) = try await Self.curl(["-H", "X-Api-Key: sk_test_unknown", base + "/v1/test/echo"])
        #expect(refused == 401)
        let (spec, document) = try await Self.curl([base + "/openapi.json"])
        #expect(spec == 200 && document.contains("\"openapi\""))
        for process in processes { kill(process.processIdentifier, SIGTERM) }
        let stopped = await h.eventually(timeout: .seconds(20)) { processes.allSatisfy { !$0.isRunning } }
        #expect(stopped, "a process did not stop within 20 s of SIGTERM")
        // Reading the status of a running process traps: only ask the ones that exited.
        #expect(processes.filter { !$0.isRunning }.allSatisfy { $0.terminationStatus == 0 })
    }

    @Test func testRoutesAreRefusedInProductionMode() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        var environment = try Self.environment(h)
        environment["BILLING_MODE"] = "production"
        environment["BILLING_HTTP_PORT"] = "0"
        let run = try await Self.dev(["gateway"], environment: environment)
        #expect(run.status != 0)
        #expect(run.errors.contains("diagnostic routes are refused outside BILLING_MODE=development"), "\(run.errors)")
    }

    @Test func theShippedBinaryHasNoBenchmarksOrDiagnosticService() async throws {
        let help = try await Self.billing(["--help"], environment: [:])
        #expect(help.status == 0)
        for role in ["all", "gateway", "worker", "scheduler", "migrate", "streams", "admin"] {
            #expect(help.output.contains("  \(role)"), "billing --help lists \(role): \(help.output)")
        }
        #expect(!help.output.contains("bench") && !help.output.contains("serve"), "\(help.output)")
        let gateway = try await Self.billing(["gateway", "--help"], environment: [:])
        #expect(!gateway.output.contains("test-routes"), "\(gateway.output)")
        let worker = try await Self.billing(["worker", "test"], environment: [:])
        #expect(worker.status != 0 && worker.errors.contains("unknown service 'test'"), "\(worker.errors)")
        let benchHelp = try await Self.run("billing-bench", ["--help"], environment: [:])
        #expect(benchHelp.output.contains("streams") && benchHelp.output.contains("serve"), "\(benchHelp.output)")
    }

    @Test func streamsStatusDeadLettersAndReplayFromTheCommandLine() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        h.startRunner()
        for i in 0..<12 {
            #expect(try await h.roundTrip(h.command("test.insert", .object(["key": .string("c\(i)")])))?.status == .succeeded)
        }
        try await h.redis.send(XADD(h.stream, fields: [("envelope", "{broken")]))
        let admin = StreamAdmin(redis: h.redis, names: h.names)
        #expect(try await h.eventually { try await admin.deadLetters(service: TestHandlers.name).count == 1 })
        let env = try Self.environment(h)

        let status = try await Self.dev(["streams", "status", "--services", "test"], environment: env)
        #expect(status.status == 0, "\(status.errors)")
        let row = status.output.split(separator: "\n").first { $0.hasPrefix(h.stream) }
        #expect(row?.contains(" test ") == true, "status output: \(status.output)")
        #expect(row.map { $0.split(separator: " ").last == "1" } == true, "one dead letter: \(status.output)")

        let dlq = try await Self.dev(["streams", "dlq", "list", "test"], environment: env)
        #expect(dlq.output.contains("malformed envelope"))

        let replay = try await Self.dev(["streams", "replay", "test", "--from", "-"], environment: env)
        #expect(replay.status == 0, "\(replay.errors)")
        #expect(replay.output.contains("applied 0, already applied 12"), "\(replay.output)")
        #expect(replay.output.contains("unreadable 1"))
        #expect(try await h.items().count([:]) == 12)

        let purge = try await Self.dev(["streams", "dlq", "purge", "test"], environment: env)
        #expect(purge.output.contains("purged 1"))
        #expect(try await admin.deadLetters(service: TestHandlers.name).isEmpty)

        let unknown = try await Self.billing(["streams", "replay", "nope", "--from", "-"], environment: env)
        #expect(unknown.status != 0 && unknown.errors.contains("unknown service 'nope'"))
    }
}
