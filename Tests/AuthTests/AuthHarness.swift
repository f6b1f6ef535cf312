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
import Testing

/// The gateway (standard routes, real OpenAPI validation) in process, with the real auth worker
/// behind it on its own stream prefix and database.
final class AuthHarness: @unchecked Sendable {
    let redis: RedisClient
    let mongo: MongoClient
    let database: MongoDatabase
    let names: StreamNames
    let replies: ReplyRouter
    let logs = LogCapture()
    var configuration: AuthConfiguration
    let service: AuthService
    var gatewayConfiguration: GatewayConfiguration
    /// What the harness runs in-process, stopped by graceful shutdown as `billing` stops it.
    let services = ServiceStack()

    static let openAPI: OpenAPIDocument? = try? OpenAPIDocument(
        contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("schemas/openapi.yaml").path)

    init(withCustomers: Bool = false, configure: (inout AuthConfiguration) -> Void = { _ in }) async throws {
        var redisConfiguration = try RedisConfiguration(url: TestServers.url("BILLING_TEST_REDIS_URL"))
        redisConfiguration.connectionCount = 2
        redis = RedisClient(configuration: redisConfiguration)
        var mongoLogger = Logger(label: "test.mongo")
        mongoLogger.logLevel = .warning
        mongo = try MongoClient(url: TestServers.url("BILLING_TEST_MONGO_URL"), poolSize: 4, logger: mongoLogger)
        database = mongo.database("\(mongo.defaultDatabaseName ?? "billing_test")_auth_\(UUID().uuidString.prefix(8).lowercased())")
        names = StreamNames(prefix: "ta\(UUID().uuidString.prefix(8).lowercased())")
        replies = ReplyRouter(redis: redis, names: names, logger: logs.logger("test.replies"))
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
        try await createIndexes()
        try await AuthPublisher(service: service, database: database, redis: redis, logger: logs.logger("test.publisher"))
            .publishOnce()
        let replies = self.replies
        services.start(replies)
        startWorker()
        if withCustomers { startCustomers() }
    }

    /// The customer worker, the outbox relay and auth's event consumer: signup's `customer.create`
    /// and erasure's `customer.deleted` then travel for real.
    func startCustomers() {
        var settings = ConsumerSettings()
        settings.block = .milliseconds(200)
        let logger = logs.logger("test.customers")
        let customers = CommandProcessor(
            group: CustomerService.name, registry: CustomerService.registry(.init(names: names)), database: database,
            redis: redis, logger: logger)
        let customerRunner = ConsumerGroupRunner(
            service: CustomerService.name, processor: customers, redis: redis, names: names, settings: settings,
            logger: logger)
        let events = CommandProcessor(
            group: AuthService.eventGroup, registry: service.eventRegistry(), database: database, redis: redis,
            logger: logger)
        let eventRunner = ConsumerGroupRunner(
            stream: names.events, group: AuthService.eventGroup, deadLetterStream: names.deadLetters(AuthService.eventGroup),
            processor: events, redis: redis, names: names, settings: settings, logger: logger)
        let relay = OutboxRelay(
            database: database, bus: CommandBus(redis: redis, names: names), pollInterval: .milliseconds(50),
            logger: logger)
        services.start(customerRunner)
        services.start(eventRunner)
        services.start(relay)
    }

    /// The indexes `billing migrate` creates for the auth collections (unique email per tenant).
    func createIndexes() async throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("schemas/collections").path
        _ = try await CollectionMigrator(client: mongo, database: database.name).apply(
            folder: folder, logger: logs.logger("test.migrate"))
    }

    func startWorker() {
        var settings = ConsumerSettings()
        settings.block = .milliseconds(200)
        let logger = logs.logger("test.auth")
        let processor = CommandProcessor(
            group: AuthService.name, registry: service.registry(), database: database, redis: redis, logger: logger)
        let runner = ConsumerGroupRunner(
            service: AuthService.name, processor: processor, redis: redis, names: names, settings: settings, logger: logger)
        services.start(runner)
    }

    func application() -> some ApplicationProtocol {
        Gateway(
            redis: redis, replies: replies, configuration: gatewayConfiguration, routes: .standard, openAPI: Self.openAPI,
            logger: logs.logger("test.gateway")
        ).buildApplication()
    }

    func shutdown() async {
        await services.shutdown()
        try? await database.drop()
        _ = try? await redis.deleteKeys(prefix: names.prefix + ":")
        await redis.shutdown()
        try? await mongo.shutdown()
    }
}

func withAuth(
    withCustomers: Bool = false, configure: (inout AuthConfiguration) -> Void = { _ in },
    _ body: @escaping @Sendable (AuthHarness, any TestClientProtocol) async throws -> Void
) async throws {
    let harness = try await AuthHarness(withCustomers: withCustomers, configure: configure)
    do {
        try await harness.application().test(.router) { client in try await body(harness, client) }
    } catch {
        await harness.shutdown()
        throw error
    }
    await harness.shutdown()
}

let jsonHeaders: HTTPFields = [.contentType: "application/json"]
/// Where no worker answers (customers arrive with another service), `respond-async` gets a 202 at
/// once when the edge accepts the credential.
let respondAsync: HTTPFields = [HTTPField.Name("Prefer")!: "respond-async"]
let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

func + (lhs: HTTPFields, rhs: HTTPFields) -> HTTPFields {
    var result = lhs
    result.append(contentsOf: rhs)
    return result
}

func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

extension TestResponse {
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]) ?? [:]
    }
    var text: String { String(buffer: body) }
}

extension TestClientProtocol {
    /// POSTs JSON and returns status and decoded body.
    @discardableResult
    func post(_ uri: String, _ body: String, headers: HTTPFields = [:]) async throws -> (HTTPResponse.Status, [String: Any]) {
        try await execute(uri: uri, method: .post, headers: jsonHeaders + headers, body: ByteBuffer(string: body)) {
            ($0.status, $0.json)
        }
    }

    func get(_ uri: String, headers: HTTPFields = [:]) async throws -> (HTTPResponse.Status, [String: Any]) {
        try await execute(uri: uri, method: .get, headers: headers) { ($0.status, $0.json) }
    }

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
