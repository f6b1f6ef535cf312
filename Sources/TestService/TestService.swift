import Foundation
import Gateway
import MessageBus
import Mongo
import Redis
import WorkerRuntime

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
            .init(.get, "/v1/test/echo", TestCommands.Echo.self, access: anyone),
            .init(.post, "/v1/test/echo", TestCommands.Echo.self, access: anyone),
            .init(.post, "/v1/test/items", TestCommands.Insert.self, access: anyone),
        ]
    }()

    @Sendable public static func registry() -> HandlerRegistry {
        var registry = HandlerRegistry()
        registry.read(TestCommands.Echo.self) { envelope, _ in
            Answer(envelope.payload)
        }
        registry.read(TestCommands.Items.self) { _, context in
            // The items' command IDs: what the gateway's tests check without a MongoDB client of their own.
            let items = try await context.database.collection("items", as: Item.self).find([:])
            return Answer(.object(["command_ids": .array(items.map { .string($0.commandID) })]))
        }
        registry.write(TestCommands.Insert.self) { context in
            try insert(context)
            return Answer(status: 201, .object(["key": context.envelope.payload["key"] ?? .null]))
        }
        registry.write(TestCommands.Slow.self) { context in
            let ms = Int(context.envelope.payload["ms"]?.numberText ?? "") ?? 100
            Thread.sleep(forTimeInterval: Double(ms) / 1000)
            try insert(context)
            return Answer(status: 201, .object(["key": context.envelope.payload["key"] ?? .null]))
        }
        registry.write(TestCommands.Hang.self) { context in
            // Every delivery writes the same document (its `_id` is the command's), so a transaction
            // left open on it conflicts with the next delivery's. In a process started with
            // BILLING_TEST_HANG_MS the handler then holds its transaction open that long, and says so.
            _ = try context.transaction.collection("claims", as: BSONDocument.self).insertOne(["_id": .string(context.envelope.id)])
            try insert(context)
            if let ms = ProcessInfo.processInfo.environment["BILLING_TEST_HANG_MS"].flatMap(Int.init) {
                FileHandle.standardError.write(Data("test.hang: holding a transaction open for \(ms) ms\n".utf8))
                Thread.sleep(forTimeInterval: Double(ms) / 1000)
            }
            return Answer(status: 201, .object([:]))
        }
        registry.write(TestCommands.Emit.self) { context in
            try insert(context)
            context.emit(.testHappened, payload: context.envelope.payload)
            return Answer(status: 201, .object([:]))
        }
        registry.write(TestCommands.Forward.self) { context in
            // Asks this same service, through the outbox, to insert `key` (a command to another service).
            context.send(
                TestCommands.Insert.self, payload: .object(["key": context.envelope.payload["key"] ?? .null]),
                id: "fwd-\(context.envelope.id)")
            return Answer(status: 202, .object([:]))
        }
        registry.write(TestCommands.Mark.self) { context in
            // Inserts, then sets a Redis key once the insert has committed.
            try insert(context)
            let key = context.envelope.payload["redis_key"]?.stringValue ?? ""
            let fail = context.envelope.payload["fail"] == .bool(true)
            context.afterCommit { redis in
                try await redis.send(SET(key, value: RedisArgument("committed")))
            }
            if fail { throw Problem.invalid("fail", "refused after asking for an after-commit action") }
            return Answer(status: 201, .object([:]))
        }
        registry.write(TestCommands.Rotate.self) { context in
            // A secret shown once (as a rotated refresh token): a fresh random value, stored as the item's key.
            let token = "tok_" + UUID().uuidString
            _ = try context.transaction.collection("items", as: Item.self).insertOne(
                Item(commandID: context.envelope.id, key: token))
            return Answer(.object(["token": .string(token)]), secretFields: ["token"])
        }
        registry.write(TestCommands.Refuse.self) { _ in
            throw Problem.invalid("key", "refused on purpose")
        }
        registry.write(TestCommands.Fail.self) { context in
            // Poison until a `flags/fixed` document exists.
            let flags = context.transaction.collection("flags", as: BSONDocument.self)
            guard try flags.findOne(["_id": "fixed"]) != nil else {
                throw TestFailure(message: "test.fail is broken until flags/fixed exists")
            }
            try insert(context)
            return Answer(status: 201, .object([:]))
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

/// The diagnostic service's commands (not part of the product's catalogue); they answer whatever
/// JSON their test needs.
public enum TestCommands {
    public enum Echo: BusCommand {
        public static let name = "test.echo"
        public static let service = TestHandlers.name
        public typealias Response = JSONValue
    }
    public enum Emit: BusCommand {
        public static let name = "test.emit"
        public static let service = TestHandlers.name
        public typealias Response = JSONValue
    }
    public enum Fail: BusCommand {
        public static let name = "test.fail"
        public static let service = TestHandlers.name
        public typealias Response = JSONValue
    }
    public enum Forward: BusCommand {
        public static let name = "test.forward"
        public static let service = TestHandlers.name
        public typealias Response = JSONValue
    }
    public enum Hang: BusCommand {
        public static let name = "test.hang"
        public static let service = TestHandlers.name
        public typealias Response = JSONValue
    }
    public enum Insert: BusCommand {
        public static let name = "test.insert"
        public static let service = TestHandlers.name
        public typealias Response = JSONValue
    }
    public enum Items: BusCommand {
        public static let name = "test.items"
        public static let service = TestHandlers.name
        public typealias Response = JSONValue
    }
    public enum Mark: BusCommand {
        public static let name = "test.mark"
        public static let service = TestHandlers.name
        public typealias Response = JSONValue
    }
    public enum Refuse: BusCommand {
        public static let name = "test.refuse"
        public static let service = TestHandlers.name
        public typealias Response = JSONValue
    }
    public enum Rotate: BusCommand {
        public static let name = "test.rotate"
        public static let service = TestHandlers.name
        public typealias Response = JSONValue
    }
    public enum Slow: BusCommand {
        public static let name = "test.slow"
        public static let service = TestHandlers.name
        public typealias Response = JSONValue
    }
}

extension EventType {
    /// Raised by `test.emit`.
    public static let testHappened = EventType("test.happened")
}
