import AccessTokens
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import Logging
import MessageBus
import NIOCore
import Redis
import Testing
import TestSupport

@testable import Gateway

/// One isolated gateway setup: its own stream prefix and database, the diagnostic `test` service run
/// by a real worker process (`billing-bench serve worker test`), a reply router, an ES256 signing key
/// published as the JWKS. The gateway's tests link the message bus only, never MongoDB: the build
/// holds the rule that the gateway does not talk to the database.
final class GatewayHarness: @unchecked Sendable {
    /// The diagnostic service the test routes reach.
    static let testService = "test"

    let redis: RedisClient
    let databaseName: String
    let names: StreamNames
    let replies: ReplyRouter
    let signingKey = ES256PrivateKey()
    let kid = "k-\(UUID().uuidString.prefix(6).lowercased())"
    let keys = JWTKeyCollection()
    var configuration: GatewayConfiguration
    /// What the harness runs in-process, stopped by graceful shutdown as `billing` stops it.
    let services = ServiceStack()

    static let openAPIPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("schemas/openapi.yaml").path
    static let openAPI: OpenAPIDocument? = try? OpenAPIDocument(contentsOf: openAPIPath)

    init(startWorker: Bool = true, configure: (inout GatewayConfiguration) -> Void = { _ in }) async throws {
        var redisConfiguration = try RedisConfiguration(url: TestServers.url("BILLING_TEST_REDIS_URL"))
        redisConfiguration.connectionCount = 2
        redis = RedisClient(configuration: redisConfiguration)
        databaseName = "billing_test_gw_\(UUID().uuidString.prefix(8).lowercased())"
        names = StreamNames(prefix: "tg\(UUID().uuidString.prefix(8).lowercased())")
        var logger = Logger(label: "test.replies")
        logger.logLevel = .warning
        replies = ReplyRouter(redis: redis, names: names, logger: logger)
        var configuration = GatewayConfiguration()
        configuration.names = names
        configuration.corsAllowedOrigins = ["https://app.example.com"]
        configuration.requiredServices = [Self.testService]
        configure(&configuration)
        self.configuration = configuration
        let replies = self.replies
        services.start(replies)
        await keys.add(ecdsa: signingKey, kid: JWKIdentifier(string: kid))
        try await publishJWKS([(kid, signingKey)])
        if startWorker { try await self.startWorker() }
    }

    private var worker: (Process, URL)?

    /// Starts the `test` worker process for this harness's streams and database.
    func startWorker(environment: [String: String] = [:]) async throws {
        worker = try await TestServers.startWorker(
            [Self.testService], prefix: names.prefix, database: databaseName, environment: environment)
    }

    /// The worker process, for a test that kills it.
    var workerProcess: Process? { worker?.0 }

    /// The routes the tests add to the standard table, served by the test service (or by nobody).
    static var testRoutes: RouteTable {
        var table = RouteTable.standard
        let anyone: GatewayRoute.Access = .authenticated(roles: [.admin, .customer, .service], scopes: ["test:use"])
        table.add(.init(.post, "/v1/test/items", TestCommand.Insert.self, access: anyone))
        table.add(.init(.get, "/v1/test/echo", TestCommand.Echo.self, access: anyone))
        table.add(.init(.get, "/v1/test/public-echo", TestCommand.Echo.self, access: .public))
        table.add(.init(.post, "/v1/test/login", TestCommand.Echo.self, access: .public, rateClass: .auth))
        table.add(.init(.post, "/v1/test/refuse", TestCommand.Refuse.self, access: anyone))
        table.add(.init(.post, "/v1/test/customers", TestCommand.Echo.self, access: anyone, requestSchema: "CustomerCreate"))
        table.add(.init(.post, "/v1/test/admin-only", TestCommand.Echo.self, access: .authenticated(roles: [.admin], scopes: [])))
        // No worker reads this stream: requests to it stay pending.
        table.add(.init(.post, "/v1/test/void", TestCommand.Void.self, access: anyone))
        return table
    }

    func gateway(routes: RouteTable = GatewayHarness.testRoutes) -> Gateway {
        var logger = Logger(label: "test.gateway")
        logger.logLevel = .warning
        return Gateway(
            redis: redis, replies: replies, configuration: configuration, routes: routes, openAPI: Self.openAPI,
            logger: logger)
    }

    func application() -> some ApplicationProtocol { gateway().buildApplication() }

    /// Whether nothing was ever added to `stream`: its last id, not its length, since the worker
    /// deletes the entries it has settled (no stream at all counts as nothing sent).
    func nothingEverSent(to stream: String) async -> Bool {
        guard let info = try? await redis.send(XINFO_STREAM(stream)) else { return true }
        return info.lastGeneratedID == "0-0"
    }

    /// Writes a JWKS with the public halves of `keys` where the auth service would.
    func publishJWKS(_ keys: [(String, ES256PrivateKey)]) async throws {
        let jwks = JWKS(
            keys: keys.map { kid, key in
                let parameters = key.publicKey.parameters
                return JWK.ecdsa(
                    .es256, identifier: JWKIdentifier(string: kid), x: parameters?.x, y: parameters?.y, curve: .p256)
            })
        let json = try JSONEncoder().encode(jwks)
        _ = try await redis.send(SET("\(names.prefix):auth:jwks", value: RedisArgument(bytes: Array(json))))
    }

    func claims(
        subject: String = "usr_admin", role: String = "admin", tenant: String = "default", scope: String = "test:use",
        expires: Date = Date().addingTimeInterval(900), jti: String = UUID().uuidString, audience: String = "billing-api",
        issuer: String = "billing"
    ) -> AccessClaims {
        AccessClaims(
            iss: IssuerClaim(value: issuer), aud: AudienceClaim(value: [audience]), sub: SubjectClaim(value: subject),
            tenant: tenant, role: role, scope: scope, customerID: role == "customer" ? "cus_\(subject)" : nil,
            jti: IDClaim(value: jti), exp: ExpirationClaim(value: expires),
            nbf: NotBeforeClaim(value: Date().addingTimeInterval(-60)), iat: IssuedAtClaim(value: Date()))
    }

    func token(_ claims: AccessClaims? = nil) async throws -> String {
        try await keys.sign(claims ?? self.claims(), kid: JWKIdentifier(string: kid))
    }

    func bearer(_ claims: AccessClaims? = nil) async throws -> HTTPFields {
        [.authorization: "Bearer \(try await token(claims))"]
    }

    /// The command IDs of the test service's item documents, asked of the worker (`test.items`).
    func items() async throws -> [String] {
        let envelope = Envelope(
            type: "test.items", replyTo: replies.stream, principal: Principal(subject: "test", role: .admin, tenant: "default"),
            payload: .object([:]), createdAt: Date())
        replies.expect(envelope.id)
        _ = try await CommandBus(redis: redis, names: names).send(envelope, to: Self.testService)
        guard let reply = await replies.wait(for: envelope.id, timeout: .seconds(20)),
            case .array(let ids)? = reply.result?["command_ids"]
        else { throw HarnessFailure(description: "test.items got no answer") }
        return ids.compactMap(\.stringValue)
    }

    func itemCount() async throws -> Int { try await items().count }

    struct HarnessFailure: Error, CustomStringConvertible {
        var description: String
    }

    func shutdown() async {
        await services.shutdown()
        if let (process, log) = worker {
            await ChildProcess.stop(process)
            try? FileManager.default.removeItem(at: log)
        }
        _ = try? await redis.deleteKeys(prefix: names.prefix + ":")
        await redis.shutdown()
    }
}

/// Runs `body` with a harness and always shuts it down.
func withHarness(
    startWorker: Bool = true, configure: (inout GatewayConfiguration) -> Void = { _ in },
    _ body: (GatewayHarness) async throws -> Void
) async throws {
    let harness = try await GatewayHarness(startWorker: startWorker, configure: configure)
    do {
        try await body(harness)
    } catch {
        await harness.shutdown()
        throw error
    }
    await harness.shutdown()
}

func jsonBody(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

/// The diagnostic service's commands the test routes send (the gateway's tests link the bus only,
/// not the `TestService` module), and one no worker reads.
enum TestCommand {
    enum Insert: BusCommand {
        static let name = "test.insert"
        static let service = GatewayHarness.testService
        typealias Response = JSONValue
    }
    enum Echo: BusCommand {
        static let name = "test.echo"
        static let service = GatewayHarness.testService
        typealias Response = JSONValue
    }
    enum Refuse: BusCommand {
        static let name = "test.refuse"
        static let service = GatewayHarness.testService
        typealias Response = JSONValue
    }
    enum Void: BusCommand {
        static let name = "void.run"
        static let service = "void"
        typealias Response = JSONValue
    }
}
