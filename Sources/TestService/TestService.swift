import Foundation
import Gateway
import MessageBus
import WorkerRuntime
import Mongo
import Redis

/// A small service used by the integration tests (and `billing-bench streams`) to exercise the
/// messaging runtime with real effects: documents in MongoDB, refusals, failures, slowness, events.
public enum TestHandlers {
    public static let name = "test"

    /// One document a `test.insert` command writes; `_id` is generated, so a duplicate effect shows up as a second document.
    public struct Item: Codable, Sendable {
        public var commandID: String
        public var key: String

        public init(commandID: String, key: String) {
            self.commandID = commandID
            self.key = key
        }
    }

    /// The gateway routes a development gateway serves for this service (benchmarks: a no-op
    /// round trip and an insert through the real edge).
    public static let routes: [GatewayRoute] = {
        let anyone: GatewayRoute.Access = .authenticated(roles: [.admin, .customer, .service], scopes: ["test:use"])
        return [
            .init(.get, "/v1/test/echo", service: name, type: "test.echo", access: anyone),
            .init(.post, "/v1/test/echo", service: name, type: "test.echo", access: anyone),
            .init(.post, "/v1/test/items", service: name, type: "test.insert", access: anyone),
        ]
    }()

    @Sendable public static func registry() -> HandlerRegistry {
        var registry = HandlerRegistry()
        registry.read("test.echo") { envelope, _ in
            HandlerResult(body: envelope.payload)
        }
        registry.read("test.items") { _, context in
            // The items' command IDs: what the gateway's tests check without a MongoDB client of their own.
            let items = try await context.database.collection("items", as: Item.self).find([:])
            return HandlerResult(body: .object(["command_ids": .array(items.map { .string($0.commandID) })]))
        }
        registry.write("test.insert") { context in
            try insert(context)
            return HandlerResult(status: 201, body: .object(["key": context.envelope.payload["key"] ?? .null]))
        }
        registry.write("test.slow") { context in
            let ms = Int(context.envelope.payload["ms"]?.numberText ?? "") ?? 100
            Thread.sleep(forTimeInterval: Double(ms) / 1000)
            try insert(context)
            return HandlerResult(status: 201, body: .object(["key": context.envelope.payload["key"] ?? .null]))
        }
        registry.write("test.hang") { context in
            // Every delivery writes the same document (its `_id` is the command's), so a transaction
            // left open on it conflicts with the next delivery's. In a process started with
            // BILLING_TEST_HANG_MS the handler then holds its transaction open that long, and says so.
            _ = try context.transaction.collection("claims", as: BSONDocument.self).insertOne(["_id": .string(context.envelope.id)])
            try insert(context)
            if let ms = ProcessInfo.processInfo.environment["BILLING_TEST_HANG_MS"].flatMap(Int.init) {
                FileHandle.standardError.write(Data("test.hang: holding a transaction open for \(ms) ms\n".utf8))
                Thread.sleep(forTimeInterval: Double(ms) / 1000)
            }
            return HandlerResult(status: 201, body: .object([:]))
        }
        registry.write("test.emit") { context in
            try insert(context)
            context.emit("test.happened", payload: context.envelope.payload)
            return HandlerResult(status: 201, body: .object([:]))
        }
        registry.write("test.forward") { context in
            // Asks this same service, through the outbox, to insert `key` (a command to another service).
            context.send(
                "test.insert", to: name, payload: .object(["key": context.envelope.payload["key"] ?? .null]),
                id: "fwd-\(context.envelope.id)")
            return HandlerResult(status: 202, body: .object([:]))
        }
        registry.write("test.mark") { context in
            // Inserts, then sets a Redis key once the insert has committed.
            try insert(context)
            let key = context.envelope.payload["redis_key"]?.stringValue ?? ""
            let fail = context.envelope.payload["fail"] == .bool(true)
            context.afterCommit { redis in
                try await redis.send(SET(key, value: RedisArgument("committed")))
            }
            if fail { throw Problem.invalid("fail", "refused after asking for an after-commit action") }
            return HandlerResult(status: 201, body: .object([:]))
        }
        registry.write("test.refuse") { _ in
            throw Problem.invalid("key", "refused on purpose")
        }
        registry.write("test.fail") { context in
            // Poison until a `flags/fixed` document exists.
            let flags = context.transaction.collection("flags", as: BSONDocument.self)
            guard try flags.findOne(["_id": "fixed"]) != nil else {
                throw TestFailure(message: "test.fail is broken until flags/fixed exists")
            }
            try insert(context)
            return HandlerResult(status: 201, body: .object([:]))
        }
        return registry
    }

    struct TestFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    static func insert(_ context: CommandContext) throws {
        let key = context.envelope.payload["key"]?.stringValue ?? ""
        _ = try context.transaction.collection("items", as: Item.self).insertOne(
            Item(commandID: context.envelope.id, key: key))
    }
}

extension JSONValue {
    var numberText: String? {
        switch self {
        case .number(let n): n
        case .string(let s): s
        default: nil
        }
    }
}
