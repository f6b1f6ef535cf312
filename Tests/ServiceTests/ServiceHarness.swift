import CustomerService
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MessageBus
import WorkerRuntime
import Mongo
import NIOCore
import PlanService
import Redis
import Runtime
import TestSupport
import WorkerTestSupport
import Testing

@testable import Gateway

/// The real gateway (standard route table, schemas/openapi.yaml) in front of the real `customer` and
/// `plan` workers, on the servers `scripts/test` starts: its own key prefix and database per test,
/// collections created by the migrator from schemas/collections. No outbox relay runs, so what the
/// workers emitted and sent stays in the `outbox` collection for the test to read.
final class ServiceHarness: @unchecked Sendable {
    let stack: TestStack
    var redis: RedisClient { stack.redis }
    var database: MongoDatabase { stack.database }
    var names: StreamNames { stack.names }
    var bus: CommandBus { stack.bus }
    var configuration: GatewayConfiguration

    static let repository = TestServers.repository
    static let openAPI: OpenAPIDocument? = try? OpenAPIDocument(
        contentsOf: repository.appendingPathComponent("schemas/openapi.yaml").path)

    init(cacheTTL: Duration? = .seconds(30), extra: [(String, HandlerRegistry)] = []) async throws {
        stack = try await TestStack(tag: "svc")
        let names = stack.names
        var configuration = GatewayConfiguration()
        configuration.names = names
        configuration.requiredServices = [CustomerService.name, PlanService.name] + extra.map(\.0)
        // Advancing a test clock through a year takes longer than the default 5 s wait.
        configuration.defaultWait = .seconds(30)
        configuration.principalLimit = RateLimitTier(rate: 10_000, burst: 10_000)
        configuration.ipLimit = RateLimitTier(rate: 10_000, burst: 10_000)
        self.configuration = configuration
        let registries: [(String, HandlerRegistry)] = [
            (CustomerService.name, CustomerService.registry(.init(names: names, cacheTTL: cacheTTL))),
            (PlanService.name, PlanService.registry()),
        ] + extra
        for (service, registry) in registries { stack.startWorker(service, registry) }
    }

    func application() -> some ApplicationProtocol {
        var logger = Logger(label: "test.gateway")
        logger.logLevel = .error
        return Gateway(
            redis: redis, replies: stack.replies, configuration: configuration, routes: .standard, openAPI: Self.openAPI,
            logger: logger
        ).buildApplication()
    }

    /// An API key for `principal`, stored where the auth service would put it; the headers that send it.
    func apiKey(_ principal: Principal) async throws -> HTTPFields {
        let key = "sk_test_\(UUID().uuidString.replacingOccurrences(of: "-", with: ""))"
        var record: [String: JSONValue] = [
            "subject": .string(principal.subject), "role": .string(principal.role.rawValue),
            "scopes": .array(principal.scopes.map(JSONValue.string)), "tenant": .string(principal.tenant),
        ]
        if let customerID = principal.customerID { record["customer_id"] = .string(customerID) }
        let storeKey = Authenticator(redis: redis, configuration: configuration).apiKeyKey(key)
        _ = try await redis.send(SET(storeKey, value: RedisArgument(bytes: Array(JSONWriter.data(.object(record))))))
        return [HTTPField.Name("X-Api-Key")!: key]
    }

    func admin(tenant: String = "t1") async throws -> HTTPFields {
        try await apiKey(Principal(subject: "usr_admin_\(tenant)", role: .admin, tenant: tenant))
    }

    func customer(_ id: String, tenant: String = "t1") async throws -> HTTPFields {
        try await apiKey(Principal(subject: "usr_\(id)", role: .customer, tenant: tenant, customerID: id))
    }

    /// Sends a command straight to a worker's stream (as another service would) and waits for its reply.
    func command(
        _ type: String, to service: String, principal: Principal, payload: JSONValue, id: String = MessageID.make()
    ) async throws -> Reply {
        try await stack.command(type, to: service, principal: principal, payload: payload, id: id)
    }

    /// Every document of every collection of the test's database, as text.
    func everyDocument() async throws -> [(collection: String, text: String)] {
        var all: [(String, String)] = []
        for name in try await database.listCollectionNames() {
            for document in try await database.collection(name, as: BSONDocument.self).find([:]) {
                all.append((name, document.description))
            }
        }
        return all
    }

    func outbox() async throws -> [BSONDocument] {
        try await database.collection("outbox", as: BSONDocument.self).find([:], options: FindOptions(sort: ["created_at": 1]))
    }

    func shutdown() async { await stack.shutdown() }
}

/// Runs `body` with a harness and always shuts it down.
func withServices(cacheTTL: Duration? = .seconds(30), _ body: (ServiceHarness) async throws -> Void) async throws {
    let harness = try await ServiceHarness(cacheTTL: cacheTTL)
    do {
        try await body(harness)
    } catch {
        await harness.shutdown()
        throw error
    }
    await harness.shutdown()
}

/// A small HTTP client over `app.test(.router)` that returns status and JSON.
struct API {
    let client: any TestClientProtocol

    struct Answer {
        var status: Int
        var json: [String: Any]
        var text: String
        var param: String? { json["param"] as? String }
        var code: String? { json["code"] as? String }
        subscript(key: String) -> Any? { json[key] }
        var string: (String) -> String? { { json[$0] as? String } }
    }

    func call(_ method: HTTPRequest.Method, _ uri: String, _ headers: HTTPFields, body: String? = nil) async throws -> Answer {
        var headers = headers
        if body != nil { headers[.contentType] = "application/json" }
        return try await client.execute(
            uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }
        ) { response in
            let text = String(buffer: response.body)
            let json = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
            return Answer(status: Int(response.status.code), json: json, text: text)
        }
    }

    func get(_ uri: String, _ headers: HTTPFields = [:]) async throws -> Answer { try await call(.get, uri, headers) }
    func post(_ uri: String, _ headers: HTTPFields, _ body: String = "{}") async throws -> Answer {
        try await call(.post, uri, headers, body: body)
    }
    func patch(_ uri: String, _ headers: HTTPFields, _ body: String) async throws -> Answer {
        try await call(.patch, uri, headers, body: body)
    }
    func delete(_ uri: String, _ headers: HTTPFields) async throws -> Answer { try await call(.delete, uri, headers) }
}

extension ServiceHarness {
    /// Runs `body` against the gateway.
    func api(_ body: @escaping @Sendable (API) async throws -> Void) async throws {
        try await application().test(.router) { client in try await body(API(client: client)) }
    }
}

/// A JSON object literal as text.
func json(_ object: [String: Any]) -> String {
    String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
}

extension JSONValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

/// Documents as the billing engine stores them (schemas/collections validates them), for tests of
/// other services that only need a subscription or an invoice to exist.
enum BillingFixtures {
    static func subscription(_ id: String, customer: String, plan: String, status: String, tenant: String = "t1") -> BSONDocument {
        let now = BSONValue.datetime(millisecondsOf: Date())
        return [
            "_id": .string(id), "tenant_id": .string(tenant), "customer_id": .string(customer), "plan_id": .string(plan),
            "plan_name": "Fixture", "price": .decimal128(Decimal(string: "19.99")!), "currency": "USD", "interval": "month",
            "interval_count": 1, "status": .string(status), "start_date": now, "billing_cycle_anchor": now,
            "current_period_start": now, "current_period_end": now, "cancel_at_period_end": false, "trial_will_end_sent": false,
            "metadata": .document([:]), "created_at": now, "updated_at": now, "version": 1,
        ]
    }

    static func invoice(
        _ id: String, customer: String, name: String = "Fixture", email: String = "fixture@example.com", total: String = "19.99",
        status: String = "paid", tenant: String = "t1"
    ) -> BSONDocument {
        let now = BSONValue.datetime(millisecondsOf: Date())
        let amount = BSONValue.decimal128(Decimal(string: total)!)
        return [
            "_id": .string(id), "tenant_id": .string(tenant), "customer_id": .string(customer), "customer_name": .string(name),
            "customer_email": .string(email), "status": .string(status), "billing_reason": "manual", "currency": "USD",
            "lines": .array([
                .document([
                    "description": "Fixture", "period_start": now, "period_end": now, "quantity": 1, "unit_amount": amount,
                    "amount": amount, "proration": false,
                ])
            ]), "subtotal": amount, "total": amount, "credit_applied": .decimal128(0), "amount_due": amount,
            "amount_paid": amount, "attempt_count": 1, "created_at": now, "updated_at": now, "version": 1,
            // The core fields the validator requires, null where empty.
            "subscription_id": .null, "number": .null, "issued_at": now, "due_at": now, "next_payment_attempt": .null,
        ]
    }
}
