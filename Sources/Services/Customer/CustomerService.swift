import Contracts
import Foundation
import MessageBus
import Mongo
import Redis
import ServiceKit
import WorkerRuntime

/// The `customer` worker (DESIGN §4–§5): profiles, suspension, GDPR export and erasure.
public enum CustomerService {
    public static let name = "customer"
    public static let collection = "customers"
    static let idPrefix = "cus"

    /// How the worker is put together: the key prefix (for the read cache) and the cache's TTL (nil: no cache).
    public struct Options: Sendable {
        public var names: StreamNames
        public var cacheTTL: Duration?

        public init(names: StreamNames = StreamNames(), cacheTTL: Duration? = .seconds(30)) {
            self.names = names
            self.cacheTTL = cacheTTL
        }
    }

    public static func registry(_ options: Options = Options()) -> HandlerRegistry {
        let handlers = CustomerHandlers(
            cache: options.cacheTTL.map { ReadCache(prefix: options.names.prefix, kind: "customer", ttl: $0) },
            operations: ReplyPublisherKeys(prefix: options.names.prefix))
        var registry = HandlerRegistry()
        registry.write(Commands.CustomerCreate.self, handlers.create)
        registry.write(Commands.CustomerUpdate.self, handlers.update)
        registry.write(Commands.CustomerSuspend.self) { context, payload in
            try handlers.transition(context, payload.path, to: .suspended)
        }
        registry.write(Commands.CustomerReactivate.self) { context, payload in
            try handlers.transition(context, payload.path, to: .active)
        }
        registry.write(Commands.CustomerDelete.self, handlers.erase)
        registry.read(Commands.CustomerGet.self, handlers.get)
        registry.read(Commands.CustomerMe.self, handlers.me)
        registry.read(Commands.CustomerList.self, handlers.list)
        registry.read(Commands.CustomerExport.self, handlers.export)
        return registry
    }
}

/// `<prefix>:op:{<id>}`, where the runtime keeps each operation's state (ReplyPublisher.operationKey).
struct ReplyPublisherKeys: Sendable {
    let prefix: String
    func operation(_ id: String) -> String { StreamNames(prefix: prefix).operation(id) }
}
