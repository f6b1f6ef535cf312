import Crypto
import AccessTokens
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
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
import WebhookService

@testable import Gateway

enum WebhookTestError: Error {
    case setup(String)
}

/// A real HTTP receiver on loopback: records every request; answers with the status `respond`
/// gives for the request's number (1-based), after `delay`.
final class Receiver: Sendable {
    struct Received: Sendable {
        var id: String
        var timestamp: String
        var signature: String
        var body: [UInt8]
        var at: Date
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) ?? [:] }
        var type: String { json["type"] as? String ?? "" }
    }

    final class Log: Sendable {
        let entries = Mutex<[Received]>([])
    }

    let log = Log()
    let port: Int
    let url: String
    private let task: Task<Void, any Error>

    init(delay: Duration = .zero, respond: @escaping @Sendable (Int) -> Int = { _ in 200 }) async throws {
        let router = Router()
        let received = self.log
        router.post("/hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let count = received.entries.withLock { list in
                list.append(
                    Received(
                        id: request.headers[HTTPField.Name("webhook-id")!] ?? "",
                        timestamp: request.headers[HTTPField.Name("webhook-timestamp")!] ?? "",
                        signature: request.headers[HTTPField.Name("webhook-signature")!] ?? "",
                        body: Array(body.readableBytesView), at: Date()))
                return list.count
            }
            if delay > .zero { try await Task.sleep(for: delay) }
            let status = respond(count)
            return Response(
                status: .init(code: status), headers: [.contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: "receiver answered \(status) to #\(count)")))
        }
        let port = Mutex<Int?>(nil)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } },
            logger: Logger(label: "test.receiver", factory: { _ in SwiftLogNoOpLogHandler() }))
        task = Task { try await app.runService() }
        let deadline = ContinuousClock.now + .seconds(10)
        while port.withLock({ $0 }) == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        guard let bound = port.withLock({ $0 }) else { throw WebhookTestError.setup("the receiver did not start") }
        self.port = bound
        self.url = "http://127.0.0.1:\(bound)/hook"
    }

    var all: [Received] { log.entries.withLock { $0 } }
    func of(type: String) -> [Received] { all.filter { $0.type == type } }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }

    /// The test's own Standard Webhooks check: base64 HMAC-SHA256 over "id.timestamp.body" with the
    /// secret's decoded bytes, compared with every `v1,` signature the header lists.
    static func verify(_ delivery: Received, secret: String) -> Bool {
        guard secret.hasPrefix("whsec_"), let key = Data(base64Encoded: String(secret.dropFirst(6))) else { return false }
        let signed = Data("\(delivery.id).\(delivery.timestamp).".utf8) + Data(delivery.body)
        let expected = Data(HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: key))).base64EncodedString()
        let offered = delivery.signature.split(separator: " ").compactMap { part -> String? in
            part.hasPrefix("v1,") ? String(part.dropFirst(3)) : nil
        }
        return offered.contains(expected)
    }
}

/// The gateway (standard routes, real OpenAPI validation) with the real webhook worker behind it:
/// command consumer, event consumer, dispatcher and outbox relay, on its own prefix and database.
final class WebhookHarness: @unchecked Sendable {
    let stack: TestStack
    var redis: RedisClient { stack.redis }
    var database: MongoDatabase { stack.database }
    var names: StreamNames { stack.names }
    var bus: CommandBus { stack.bus }
    let service: WebhookService
    var gatewayConfiguration: GatewayConfiguration
    let signingKey = ES256PrivateKey()
    let kid = "k-\(UUID().uuidString.prefix(6).lowercased())"
    let keys = JWTKeyCollection()
    /// The in-process command consumers, so a test can stop them.
    let commandRunners = Mutex<[RunningService]>([])
    private let processes = Mutex<[Process]>([])

    static let root = TestServers.repository
    static let openAPI: OpenAPIDocument? = try? OpenAPIDocument(
        contentsOf: root.appendingPathComponent("schemas/openapi.yaml").path)

    static func quiet(_ label: String) -> Logger { TestStack.quiet(label) }

    init(
        dispatchers: Int = 1, eventConsumer: Bool = true, configure: (inout WebhookConfiguration) -> Void = { _ in },
        gateway: (inout GatewayConfiguration) -> Void = { _ in }
    ) async throws {
        stack = try await TestStack(tag: "wh")
        let names = stack.names
        var configuration = WebhookConfiguration(
            names: names, secretSealingKey: WebhookConfiguration.developmentSealingKey, development: true)
        configuration.pollInterval = .milliseconds(100)
        configuration.gaugeInterval = .milliseconds(500)
        configure(&configuration)
        service = WebhookService(configuration: configuration)
        var gatewayConfiguration = GatewayConfiguration()
        gatewayConfiguration.names = names
        gatewayConfiguration.requiredServices = [WebhookService.name]
        gatewayConfiguration.defaultWait = .seconds(20)
        gatewayConfiguration.principalLimit = RateLimitTier(rate: 10_000, burst: 10_000)
        gateway(&gatewayConfiguration)
        self.gatewayConfiguration = gatewayConfiguration
        await keys.add(ecdsa: signingKey, kid: JWKIdentifier(string: kid))
        try await publishJWKS()
        startCommandConsumer()
        if eventConsumer { startEventConsumer() }
        for _ in 0..<dispatchers { startDispatcher() }
        stack.startRelay()
    }

    func consumerSettings() -> ConsumerSettings {
        TestStack.settings {
            $0.block = .milliseconds(100)
            $0.claimMinIdle = .milliseconds(1000)
            $0.claimInterval = .milliseconds(200)
        }
    }

    func startCommandConsumer() {
        let running = stack.startWorker(WebhookService.name, service.registry(), settings: consumerSettings())
        commandRunners.withLock { $0.append(running) }
    }

    /// Stops reading commands (requests then wait, and the gateway answers 202).
    func stopCommandConsumers() async throws {
        for runner in commandRunners.withLock({ $0 }) { await runner.stop() }
    }

    func startEventConsumer() {
        var settings = consumerSettings()
        settings.publishesReplies = false
        stack.startEventConsumer(
            group: WebhookService.eventGroup, ledger: WebhookService.eventLedger, deadLetters: "webhook.events",
            service.eventRegistry(), settings: settings)
    }

    @discardableResult
    func startDispatcher() -> WebhookDispatcher {
        var dl = Logger(label: "test.dispatcher"); dl.logLevel = .warning; let dispatcher = WebhookDispatcher(service: service, database: database, bus: bus, logger: dl)
        stack.services.start(dispatcher)
        return dispatcher
    }

    /// Starts the events retention pass on `clock`, every `interval`.
    func startRetention(clock: any BillingClock, interval: Duration = .milliseconds(100)) {
        var configuration = service.configuration
        configuration.retentionInterval = interval
        stack.services.start(
            EventRetention(configuration: configuration, database: database, clock: clock, logger: Self.quiet("test.retention")))
    }

    // MARK: HTTP

    func application() -> some ApplicationProtocol {
        Gateway(
            redis: redis, replies: stack.replies, configuration: gatewayConfiguration, routes: .standard, openAPI: Self.openAPI,
            logger: Self.quiet("test.gateway")
        ).buildApplication()
    }

    func publishJWKS() async throws {
        let parameters = signingKey.publicKey.parameters
        let jwks = JWKS(keys: [
            JWK.ecdsa(.es256, identifier: JWKIdentifier(string: kid), x: parameters?.x, y: parameters?.y, curve: .p256)
        ])
        _ = try await redis.send(SET("\(names.prefix):auth:jwks", value: RedisArgument(bytes: Array(try JSONEncoder().encode(jwks)))))
    }

    /// `Authorization` for an admin of `tenant`, or a customer when `customer` is given.
    func auth(tenant: String = "default", customer: String? = nil) async throws -> HTTPFields {
        let claims = AccessClaims(
            iss: IssuerClaim(value: "billing"), aud: AudienceClaim(value: ["billing-api"]),
            sub: SubjectClaim(value: customer.map { "usr_\($0)" } ?? "usr_admin"), tenant: tenant,
            role: customer == nil ? "admin" : "customer", scope: nil, customerID: customer,
            jti: IDClaim(value: UUID().uuidString), exp: ExpirationClaim(value: Date().addingTimeInterval(900)),
            nbf: NotBeforeClaim(value: Date().addingTimeInterval(-60)), iat: IssuedAtClaim(value: Date()))
        let token = try await keys.sign(claims, kid: JWKIdentifier(string: kid))
        return [.authorization: "Bearer \(token)"]
    }

    // MARK: Events

    /// Publishes a domain event on `billing:events`, as the outbox relay does after a commit: raised
    /// by an admin of `tenant`, or by `customer` when given, at `createdAt`.
    @discardableResult
    func publish(
        _ type: String, _ payload: [String: String] = [:], tenant: String = "default", customer: String? = nil,
        createdAt: Date = Date()
    ) async throws -> Envelope {
        let principal =
            customer.map { Principal(subject: "usr_\($0)", role: .customer, tenant: tenant, customerID: $0) }
            ?? Principal(subject: "usr_test", role: .admin, tenant: tenant)
        let event = Envelope(
            type: type, principal: principal, payload: .object(payload.mapValues(JSONValue.string)), createdAt: createdAt)
        try await bus.publish(event)
        return event
    }

    /// Polls `condition` until it holds or `timeout` passes; returns whether it held.
    func eventually(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async rethrows -> Bool {
        try await TestServers.eventually(timeout: timeout, condition)
    }

    func documents(_ collection: String, _ filter: BSONDocument = [:]) async throws -> [BSONDocument] {
        try await stack.documents(collection, filter)
    }

    // MARK: Worker processes

    /// Starts `billing worker webhook` as a real process on this harness's prefix and database.
    func startWorkerProcess(environment extra: [String: String]) async throws -> (Process, URL) {
        let (process, log) = try await TestServers.startWorker(
            [WebhookService.name], prefix: names.prefix, database: database.name, environment: extra)
        processes.withLock { $0.append(process) }
        return (process, log)
    }

    func shutdown() async {
        for process in processes.withLock({ $0 }) { await ChildProcess.stop(process) }
        await stack.shutdown()
    }
}

/// Runs `body` with a harness and its gateway's test client, and always shuts the harness down.
func withWebhooks(
    dispatchers: Int = 1, eventConsumer: Bool = true, configure: (inout WebhookConfiguration) -> Void = { _ in },
    gateway: (inout GatewayConfiguration) -> Void = { _ in },
    _ body: @escaping @Sendable (WebhookHarness, any TestClientProtocol) async throws -> Void
) async throws {
    let harness = try await WebhookHarness(
        dispatchers: dispatchers, eventConsumer: eventConsumer, configure: configure, gateway: gateway)
    do {
        try await harness.application().test(.router) { client in try await body(harness, client) }
    } catch {
        await harness.shutdown()
        throw error
    }
    await harness.shutdown()
}

extension TestClientProtocol {
    /// Creates an endpoint for `url` subscribed to `events`; returns (id, secret).
    func createEndpoint(_ url: String, events: [String], headers: HTTPFields) async throws -> (id: String, secret: String) {
        let list = events.map { "\"\($0)\"" }.joined(separator: ",")
        let (status, body) = try await post("/v1/webhook-endpoints", #"{"url":"\#(url)","events":[\#(list)]}"#, headers: headers)
        #expect(status == .created, "create answered \(status): \(body)")
        return (body["id"] as? String ?? "", body["secret"] as? String ?? "")
    }
}
