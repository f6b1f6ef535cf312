import Foundation
import Logging
import Mongo
import TestSupport
import Testing

/// The MongoDB-protocol server scripts/test started, and a fresh database per test.
enum MongoTestEnvironment {
    static let urlVariable = "BILLING_TEST_MONGO_URL"

    /// Fails the test (it does not skip it) when the server URL is missing.
    static func url() throws -> String {
        try TestServers.url(urlVariable, hint: " (the MongoDB-protocol server, e.g. mongodb://127.0.0.1:27117/billing_test)")
    }

    /// A client of the test server; `logger` (warnings only by default) also hears its transaction retries at debug level.
    static func makeClient(poolSize: Int = 4, logger: Logger? = nil) throws -> MongoClient {
        var fallback = Logger(label: "mongo-test")
        fallback.logLevel = .warning
        return try MongoClient(url: url(), poolSize: poolSize, appName: "billing-tests", logger: logger ?? fallback)
    }

    /// Runs `body` against a database no other test uses (the URL's database plus a random suffix),
    /// then drops it and shuts the client down, whether `body` threw or not.
    static func withDatabase(
        poolSize: Int = 4, _ body: (MongoClient, MongoDatabase) async throws -> Void
    ) async throws {
        let client = try makeClient(poolSize: poolSize)
        let base = client.defaultDatabaseName ?? "billing_test"
        let database = client.database("\(base)_\(UUID().uuidString.prefix(8).lowercased())")
        var failure: (any Error)?
        do {
            try await body(client, database)
        } catch {
            failure = error
        }
        do {
            try await database.drop()
        } catch {
            failure = failure ?? error
        }
        try await client.shutdown()
        if let failure { throw failure }
    }

    /// A TCP port on 127.0.0.1 that nothing listens on: bound, read, and closed again.
    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw MongoTestSetupError.noPort }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
            }
        }
        guard bound else { throw MongoTestSetupError.noPort }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

enum MongoTestSetupError: Error {
    case noPort
}

/// A customer document shaped like the billing collections (snake_case, Decimal, Date, metadata).
struct TestCustomer: Codable, Equatable, Sendable {
    var id: String
    var tenantID: String
    var email: String
    var name: String
    var status: String
    var balance: Decimal
    var createdAt: Date
    var version: Int
    var metadata: [String: String]
    var tags: [String]
    var note: String?

    enum CodingKeys: String, CodingKey {
        case id = "_id"
        case tenantID = "tenant_id"
        case email, name, status, balance
        case createdAt = "created_at"
        case version, metadata, tags, note
    }

    static func make(_ n: Int, tenant: String = "ten_1", status: String = "active") -> TestCustomer {
        TestCustomer(
            id: "cus_\(String(format: "%04d", n))", tenantID: tenant, email: "user\(n)@example.com", name: "User \(n)",
            status: status, balance: Decimal(string: "\(n).99")!,
            createdAt: Date(timeIntervalSince1970: Double(1_764_000_000_000 + Int64(n)) / 1000), version: 1,
            metadata: ["source": "test", "n": "\(n)"], tags: ["t\(n % 3)"], note: n.isMultiple(of: 2) ? "even" : nil)
    }
}

/// A counter used by the transaction tests.
struct TestCounter: Codable, Equatable, Sendable {
    var id: String
    var value: Int

    enum CodingKeys: String, CodingKey {
        case id = "_id"
        case value
    }
}
