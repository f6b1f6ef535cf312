import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import Logging
import Messaging
import Mongo
import NIOCore
import Redis
import TestService
import TestSupport
import Testing

@testable import Gateway

/// One isolated gateway setup: its own stream prefix and database, the test service's handlers run by
/// an in-process consumer group, a reply router, an ES256 signing key published as the JWKS.
final class GatewayHarness: @unchecked Sendable {
    let redis: RedisClient
    let mongo: MongoClient
    let database: MongoDatabase
    let names: StreamNames
    let replies: ReplyRouter
    let signingKey = ES256PrivateKey()
    let kid = "k-\(UUID().uuidString.prefix(6).lowercased())"
    let keys = JWTKeyCollection()
    var configuration: GatewayConfiguration
    private var tasks: [Task<Void, any Error>] = []

    static let openAPIPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("schemas/openapi.yaml").path
    static let openAPI: OpenAPIDocument? = try? OpenAPIDocument(contentsOf: openAPIPath)

    init(startWorker: Bool = true, configure: (inout GatewayConfiguration) -> Void = { _ in }) async throws {
        var redisConfiguration = try RedisConfiguration(url: TestServers.url("BILLING_TEST_REDIS_URL"))
        redisConfiguration.connectionCount = 2
        redis = RedisClient(configuration: redisConfiguration)
        var mongoLogger = Logger(label: "test.mongo")
        mongoLogger.logLevel = .warning
        mongo = try MongoClient(url: TestServers.url("BILLING_TEST_MONGO_URL"), poolSize: 4, logger: mongoLogger)
        database = mongo.database("\(mongo.defaultDatabaseName ?? "billing_test")_gw_\(UUID().uuidString.prefix(8).lowercased())")
        names = StreamNames(prefix: "tg\(UUID().uuidString.prefix(8).lowercased())")
        var logger = Logger(label: "test.replies")
        logger.logLevel = .warning
        replies = ReplyRouter(redis: redis, names: names, logger: logger)
        var configuration = GatewayConfiguration()
        configuration.names = names
        configuration.corsAllowedOrigins = ["https://app.example.com"]
        configuration.requiredServices = [TestHandlers.name]
        configure(&configuration)
        self.configuration = configuration
        let replies = self.replies
        tasks.append(Task { try await replies.run() })
        await keys.add(ecdsa: signingKey, kid: JWKIdentifier(string: kid))
        try await publishJWKS([(kid, signingKey)])
        if startWorker { self.startWorker() }
    }

    func startWorker() {
        var settings = ConsumerSettings()
        settings.block = .milliseconds(200)
        var logger = Logger(label: "test.consumer")
        logger.logLevel = .error
        let processor = CommandProcessor(
            group: TestHandlers.name, registry: TestHandlers.registry(), database: database, redis: redis, logger: logger)
        let runner = ConsumerGroupRunner(
            service: TestHandlers.name, processor: processor, redis: redis, names: names, settings: settings, logger: logger)
        tasks.append(Task { try await runner.run() })
    }

    /// The routes the tests add to the standard table, served by the test service (or by nobody).
    static var testRoutes: RouteTable {
        var table = RouteTable.standard
        let anyone: GatewayRoute.Access = .authenticated(roles: [.admin, .customer, .service], scopes: ["test:use"])
        table.add(.init(.post, "/v1/test/items", service: TestHandlers.name, type: "test.insert", access: anyone))
        table.add(.init(.get, "/v1/test/echo", service: TestHandlers.name, type: "test.echo", access: anyone))
        table.add(.init(.get, "/v1/test/public-echo", service: TestHandlers.name, type: "test.echo", access: .public))
        table.add(.init(.post, "/v1/test/login", service: TestHandlers.name, type: "test.echo", access: .public, rateClass: .auth))
        table.add(.init(.post, "/v1/test/refuse", service: TestHandlers.name, type: "test.refuse", access: anyone))
        table.add(.init(.post, "/v1/test/customers", service: TestHandlers.name, type: "test.echo", access: anyone, requestSchema: "CustomerCreate"))
        table.add(.init(.post, "/v1/test/admin-only", service: TestHandlers.name, type: "test.echo", access: .authenticated(roles: [.admin], scopes: [])))
        // No worker reads this stream: requests to it stay pending.
        table.add(.init(.post, "/v1/test/void", service: "void", type: "void.run", access: anyone))
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

    /// Counts the test service's item documents.
    func itemCount() async throws -> Int {
        try await database.collection("items", as: TestHandlers.Item.self).find([:]).count
    }

    func shutdown() async {
        for task in tasks { task.cancel() }
        for task in tasks { _ = try? await task.value }
        try? await database.drop()
        _ = try? await redis.deleteKeys(prefix: names.prefix + ":")
        await redis.shutdown()
        try? await mongo.shutdown()
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

extension TestResponse {
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]) ?? [:]
    }
    var text: String { String(buffer: body) }
}

func jsonBody(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

let jsonHeaders: HTTPFields = [.contentType: "application/json"]

func + (lhs: HTTPFields, rhs: HTTPFields) -> HTTPFields {
    var result = lhs
    result.append(contentsOf: rhs)
    return result
}
