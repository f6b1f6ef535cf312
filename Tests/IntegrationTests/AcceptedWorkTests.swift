import Foundation
import Gateway
import MessageBus
import Mongo
import Redis
import TestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A 202 is a promise (DESIGN §3): a client command the gateway accepted runs however long it waits.
@Suite("accepted work")
struct AcceptedWorkTests {
    @Test func asyncCreatesAcceptedWhileNoWorkerRunsAllSucceedAMinuteLater() async throws {
        let h = try await MessagingHarness()
        defer { Task { await h.shutdown() } }
        let port = try FreePort.find()
        var environment = try CommandLineTests.environment(h)
        environment["BILLING_HTTP_PORT"] = "\(port)"
        environment["BILLING_RATE_LIMIT_PRINCIPAL"] = "100000"
        let key = "sk_test_acc\(UUID().uuidString.prefix(8).lowercased())"
        var configuration = GatewayConfiguration()
        configuration.names = h.names
        let record = #"{"subject":"key_acc","role":"admin","scopes":[],"tenant":"default"}"#
        _ = try await h.redis.send(
            SET(Authenticator(redis: h.redis, configuration: configuration).apiKeyKey(key), value: RedisArgument(record)))

        // The real gateway, and no customer worker.
        let gateway = Process()
        gateway.executableURL = try TestServers.binary("billing")
        gateway.arguments = ["gateway"]
        var merged = ProcessInfo.processInfo.environment
        for (k, v) in environment { merged[k] = v }
        gateway.environment = merged
        gateway.standardError = FileHandle.nullDevice
        try gateway.run()
        defer { if gateway.isRunning { gateway.terminate() } }
        let base = URL(string: "http://127.0.0.1:\(port)")!
        #expect(await h.eventually(timeout: .seconds(30)) { (try? await Self.get(base.appendingPathComponent("healthz"), key: nil).0) == 200 })

        // 300 creates, answered 202 at once.
        let count = 300
        let operations = try await withThrowingTaskGroup(of: String?.self) { group in
            for i in 0..<count {
                group.addTask {
                    var request = URLRequest(url: base.appendingPathComponent("v1/customers"))
                    request.httpMethod = "POST"
                    request.setValue(key, forHTTPHeaderField: "X-Api-Key")
                    request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                    request.setValue("respond-async", forHTTPHeaderField: "Prefer")
                    request.httpBody = Data(#"{"name":"Accepted \#(i)","email":"accepted\#(i)@example.com"}"#.utf8)
                    let (_, response) = try await URLSession.shared.data(for: request)
                    let http = response as? HTTPURLResponse
                    guard http?.statusCode == 202 else { return nil }
                    return http?.value(forHTTPHeaderField: "Location")
                }
            }
            var locations: [String] = []
            for try await location in group { if let location { locations.append(location) } }
            return locations
        }
        #expect(operations.count == count, "every create is accepted with 202 and a Location")
        let envelopes = try await h.redis.send(XRANGE(h.names.commands("customer")))
        #expect(envelopes.count == count)
        for entry in envelopes.prefix(5) {
            let envelope = try MessageCoding.decode(Envelope.self, from: entry.fields[CommandBus.envelopeField] ?? "")
            #expect(envelope.deadline == nil, "a client command carries no deadline")
        }

        // A minute later (twice the longest wait a client may ask for) the worker starts.
        try await Task.sleep(for: .seconds(60))
        let (worker, log) = try await TestServers.startWorker(["customer"], prefix: h.names.prefix, database: h.database.name)
        defer { Task { await ChildProcess.stop(worker); try? FileManager.default.removeItem(at: log) } }

        // Every operation succeeds, and every customer exists.
        var states: [String: Int] = [:]
        let done = await h.eventually(timeout: .seconds(120)) {
            states = [:]
            for location in operations {
                let (status, body) = (try? await Self.get(base.appendingPathComponent(String(location.dropFirst())), key: key)) ?? (0, [:])
                let state = status == 200 ? "\(body["status"] ?? "?"):\(body["http_status"] ?? "?")" : "http \(status)"
                states[state, default: 0] += 1
                if state != "succeeded:201" { return false }
            }
            return true
        }
        #expect(done, "operation states: \(states)")
        #expect(try await h.database.collection("customers", as: BSONDocument.self).find([:]).count == count)
        await ChildProcess.stop(gateway)
    }

    static func get(_ url: URL, key: String?) async throws -> (Int, [String: Any]) {
        var request = URLRequest(url: url)
        if let key { request.setValue(key, forHTTPHeaderField: "X-Api-Key") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let object = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, object)
    }
}
