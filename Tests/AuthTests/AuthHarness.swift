@_spi(Testing) import AuthService
import CustomerService
import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MessageBus
import WorkerRuntime
import Mongo
import NIOCore
import Redis
import Runtime
import Synchronization
import TestSupport
import WorkerTestSupport
import Testing

/// The gateway (standard routes, real OpenAPI validation) in process, with the real auth worker
/// behind it on its own stream prefix and database.
final class AuthHarness: @unchecked Sendable {
    let stack: TestStack
    var redis: RedisClient { stack.redis }
    var database: MongoDatabase { stack.database }
    var names: StreamNames { stack.names }
    let logs = LogCapture()
    var configuration: AuthConfiguration
    let service: AuthService
    var gatewayConfiguration: GatewayConfiguration

    static let openAPI: OpenAPIDocument? = try? OpenAPIDocument(
        contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("schemas/openapi.yaml").path)

    /// Consumers of the auth worker (two let commands of one stream run at once, as with two processes).
    let authConsumers: Int

    init(
        withCustomers: Bool = false, authConsumers: Int = 1, configure: (inout AuthConfiguration) -> Void = { _ in }
    ) async throws {
        self.authConsumers = authConsumers
        stack = try await TestStack(tag: "auth", mongoPoolSize: 4, logger: logs.logger("test.stack"))
        let (names, database, redis) = (stack.names, stack.database, stack.redis)
        var configuration = AuthConfiguration(names: names, keyEncryptionKey: AuthConfiguration.developmentKeyEncryptionKey)
        // Without the customer worker nobody creates the profile: signup must not wait for it.
        if !withCustomers { configuration.signupCustomerWait = .zero }
        configure(&configuration)
        self.configuration = configuration
        service = AuthService(configuration: configuration, database: database, redis: redis)
        var gateway = GatewayConfiguration()
        gateway.names = names
        gateway.requiredServices = [AuthService.name]
        // The tests sign in far more often than a person: the edge's auth tier must not get in the way.
        gateway.authLimit = RateLimitTier(rate: 1000, burst: 1000)
        // Password hashing is slow by design, and slower still beside the rest of the suite on 2 cores.
        gateway.defaultWait = .seconds(25)
        gatewayConfiguration = gateway
        try await AuthPublisher(service: service, database: database, redis: redis, logger: logs.logger("test.publisher"))
            .publishOnce()
        startWorker()
        if withCustomers { startCustomers() }
    }

    /// The customer worker, the outbox relay and auth's event consumer: signup's `customer.create`
    /// and erasure's `customer.deleted` then travel for real.
    func startCustomers() {
        let logger = logs.logger("test.customers")
        stack.startWorker(CustomerService.name, CustomerService.registry(.init(names: names)), logger: logger)
        stack.startEventConsumer(group: AuthService.eventGroup, service.eventRegistry(), logger: logger)
        stack.startRelay(logger: logger)
    }

    func startWorker() {
        stack.startWorker(
            AuthService.name, service.registry(), settings: TestStack.settings { $0.consumers = authConsumers },
            logger: logs.logger("test.auth"))
    }

    func application() -> some ApplicationProtocol {
        Gateway(
            redis: redis, replies: stack.replies, configuration: gatewayConfiguration, routes: .standard, openAPI: Self.openAPI,
            logger: logs.logger("test.gateway")
        ).buildApplication()
    }

    func shutdown() async { await stack.shutdown() }
}

func withAuth(
    withCustomers: Bool = false, authConsumers: Int = 1, configure: (inout AuthConfiguration) -> Void = { _ in },
    _ body: @escaping @Sendable (AuthHarness, any TestClientProtocol) async throws -> Void
) async throws {
    let harness = try await AuthHarness(withCustomers: withCustomers, authConsumers: authConsumers, configure: configure)
    do {
        try await harness.application().test(.router) { client in try await body(harness, client) }
    } catch {
        await harness.shutdown()
        throw error
    }
    await harness.shutdown()
}

/// Where no worker answers (customers arrive with another service), `respond-async` gets a 202 at
/// once when the edge accepts the credential.
let respondAsync: HTTPFields = [HTTPField.Name("Prefer")!: "respond-async"]
let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

extension TestClientProtocol {
    /// Signs up and returns (access, refresh, user JSON).
    func signup(_ email: String, password: String = "correct horse battery staple") async throws
        -> (access: String, refresh: String, user: [String: Any])
    {
        let (status, body) = try await post(
            "/v1/auth/signup", #"{"email":"\#(email)","password":"\#(password)","name":"Ada Lovelace"}"#)
        #expect(status == .created, "signup answered \(status): \(body)")
        return (body["access_token"] as? String ?? "", body["refresh_token"] as? String ?? "", body["user"] as? [String: Any] ?? [:])
    }

    func login(_ email: String, password: String) async throws -> (HTTPResponse.Status, [String: Any]) {
        try await post("/v1/auth/login", #"{"email":"\#(email)","password":"\#(password)"}"#)
    }
}
