@testable import AuthService
import Foundation
import HTTPTypes
import HummingbirdTesting
import MessageBus
import Mongo
import NIOCore
import Redis
import TestSupport
import Testing

@Suite("OAuth clients, API keys, secrets shown once")
struct AuthClientsTests {
    static func form(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    static func basic(_ id: String, _ secret: String) -> HTTPFields {
        [.authorization: "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()]
    }

    @Test func clientCredentialsHappyPathAndEveryRFCError() async throws {
        try await withAuth { h, client in
            let admin = try await h.adminToken()
            let (created, clientBody) = try await client.post(
                "/v1/oauth/clients", #"{"name":"ERP sync","scopes":["customers:read","invoices:read"]}"#,
                headers: bearer(admin))
            #expect(created == .created)
            let id = try #require(clientBody["client_id"] as? String)
            let secret = try #require(clientBody["client_secret"] as? String)

            // Happy path: form-encoded with HTTP Basic client authentication (RFC 6749 §2.3.1, §4.4).
            let token = try await client.execute(
                uri: "/v1/oauth/token", method: .post, headers: formHeaders + Self.basic(id, secret),
                body: Self.form("grant_type=client_credentials&scope=customers%3Aread")
            ) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.cacheControl] == "no-store")
                return response.json
            }
            #expect(token["token_type"] as? String == "Bearer")
            #expect(token["scope"] as? String == "customers:read")
            #expect(token["refresh_token"] == nil)
            let access = try #require(token["access_token"] as? String)
            // Its scope is enforced at the edge: reading customers is allowed, creating them is not.
            let (read, _) = try await client.get("/v1/customers", headers: respondAsync + bearer(access))
            #expect(read == .accepted)
            let (write, writeBody) = try await client.post(
                "/v1/customers", #"{"name":"A","email":"a@example.com"}"#, headers: bearer(access))
            #expect(write == .forbidden, "\(writeBody)")

            // Credentials in the form body work too, and an unrecognized parameter is ignored (RFC 6749 §3.2).
            let (formStatus, _) = try await Self.token(
                client, "grant_type=client_credentials&client_id=\(id)&client_secret=\(secret)&resource=https%3A%2F%2Fapi")
            #expect(formStatus == .ok)

            // invalid_client: wrong secret (401 with WWW-Authenticate), unknown client.
            try await client.execute(
                uri: "/v1/oauth/token", method: .post, headers: formHeaders + Self.basic(id, "wrong"),
                body: Self.form("grant_type=client_credentials")
            ) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
                #expect(response.json["error"] as? String == "invalid_client")
            }
            let (unknownStatus, unknown) = try await Self.token(
                client, "grant_type=client_credentials&client_id=cli_nope&client_secret=x")
            #expect(unknownStatus == .unauthorized)
            #expect(unknown["error"] as? String == "invalid_client")
            // invalid_scope: a scope the client was not granted.
            let (scopeStatus, scope) = try await Self.token(
                client, "grant_type=client_credentials&client_id=\(id)&client_secret=\(secret)&scope=customers%3Awrite")
            #expect(scopeStatus == .badRequest)
            #expect(scope["error"] as? String == "invalid_scope")
            // unsupported_grant_type, invalid_request (missing grant_type), invalid_grant (bad refresh token).
            let (grantStatus, grant) = try await Self.token(client, "grant_type=password&username=a&password=b")
            #expect(grantStatus == .badRequest)
            #expect(grant["error"] as? String == "unsupported_grant_type", "RFC 6749 §5.2: \(grant)")
            let (missingStatus, missing) = try await Self.token(client, "scope=customers%3Aread")
            #expect(missingStatus == .badRequest)
            #expect(missing["error"] as? String == "invalid_request")
            let (badRefreshStatus, badRefresh) = try await Self.token(client, "grant_type=refresh_token&refresh_token=rt_nope")
            #expect(badRefreshStatus == .badRequest)
            #expect(badRefresh["error"] as? String == "invalid_grant")

            // The refresh_token grant rotates a user's refresh token.
            let user = try await client.signup("oauth-user@example.com")
            let (rotated, rotatedBody) = try await Self.token(client, "grant_type=refresh_token&refresh_token=\(user.refresh)")
            #expect(rotated == .ok)
            #expect((rotatedBody["refresh_token"] as? String)?.hasPrefix("rt_") == true)

            // Deleting the client stops new tokens.
            let (deleted, _) = try await client.execute(
                uri: "/v1/oauth/clients/\(id)", method: .delete, headers: bearer(admin)
            ) { ($0.status, $0.json) }
            #expect(deleted == .noContent)
            let (afterDelete, _) = try await Self.token(client, "grant_type=client_credentials&client_id=\(id)&client_secret=\(secret)")
            #expect(afterDelete == .unauthorized)
            // And the access token it issued before is refused at once, not at its expiry (item 12).
            let (stale, staleBody) = try await client.get("/v1/customers", headers: respondAsync + bearer(access))
            #expect(stale == .unauthorized, "\(staleBody)")
        }
    }

    static func token(_ client: any TestClientProtocol, _ form: String) async throws -> (HTTPResponse.Status, [String: Any]) {
        try await client.execute(uri: "/v1/oauth/token", method: .post, headers: formHeaders, body: Self.form(form)) {
            ($0.status, $0.json)
        }
    }

    @Test func apiKeysAreShownOnceStoredHashedUsableAndRevocable() async throws {
        try await withAuth { h, client in
            let admin = try await h.adminToken()
            let (created, body) = try await client.post(
                "/v1/api-keys", #"{"name":"warehouse","scopes":["customers:read"],"mode":"test"}"#, headers: bearer(admin))
            #expect(created == .created)
            let key = try #require(body["key"] as? String)
            let id = try #require(body["id"] as? String)
            #expect(key.hasPrefix("sk_test_"))
            #expect(body["prefix"] as? String == String(key.prefix(12)))
            // Stored hashed: the key appears in no collection.
            try await h.expectNowhereInDatabase(key)

            let apiKey: HTTPFields = [HTTPField.Name("X-Api-Key")!: key]
            #expect(try await h.eventually { try await client.get("/v1/customers", headers: respondAsync + apiKey).0 == .accepted })
            let (list, listBody) = try await client.get("/v1/api-keys", headers: bearer(admin))
            #expect(list == .ok)
            let listed = (listBody["data"] as? [[String: Any]] ?? []).first { $0["id"] as? String == id }
            #expect(listed?["key"] == nil)
            #expect(listed?["last_used_at"] as? String != nil)

            let (revoked, _) = try await client.execute(uri: "/v1/api-keys/\(id)", method: .delete, headers: bearer(admin)) {
                ($0.status, $0.json)
            }
            #expect(revoked == .noContent)
            let (refused, _) = try await client.get("/v1/customers", headers: respondAsync + apiKey)
            #expect(refused == .unauthorized)
        }
    }

    /// The minute republish reads every key, then publishes the active ones: one read as active just
    /// before its revocation committed must not come back (issue 17, item 12).
    @Test func aRevokedAPIKeyCannotComeBackThroughTheRepublish() async throws {
        try await withAuth { h, client in
            let admin = try await h.adminToken()
            let (_, body) = try await client.post(
                "/v1/api-keys", #"{"name":"erp","scopes":["customers:read"],"mode":"test"}"#, headers: bearer(admin))
            let key = try #require(body["key"] as? String)
            let id = try #require(body["id"] as? String)
            let apiKey: HTTPFields = [HTTPField.Name("X-Api-Key")!: key]
            #expect(try await h.eventually { try await client.get("/v1/customers", headers: respondAsync + apiKey).0 == .accepted })
            // What a republish pass read before the revocation: the key, active.
            let snapshot = try #require(
                try await h.database.collection(AuthCollections.apiKeys, as: APIKeyRecord.self).findOne(["_id": .string(id)]))
            #expect(snapshot.status == "active")
            let (revoked, _) = try await client.execute(uri: "/v1/api-keys/\(id)", method: .delete, headers: bearer(admin)) {
                ($0.status, $0.json)
            }
            #expect(revoked == .noContent)
            // The late publish of that snapshot, then a whole pass: the key stays refused.
            let publisher = APIKeyPublisher(names: h.names)
            try await publisher.publish(snapshot, redis: h.redis)
            #expect(try await h.redis.send(EXISTS(publisher.key(snapshot.hash))) == 0)
            try await AuthPublisher(service: h.service, database: h.database, redis: h.redis).publishOnce()
            let (refused, _) = try await client.get("/v1/customers", headers: respondAsync + apiKey)
            #expect(refused == .unauthorized)
        }
    }

    @Test func secretsAreNotKeptInTheLedgerOperationStateIdempotencyRecordsOrLogs() async throws {
        try await withAuth { h, client in
            let password = "Tr0ub4dor&3 but longer"
            let keyHeader: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "login-1"]
            _ = try await client.signup("secret@example.com", password: password)
            let (first, login) = try await client.post(
                "/v1/auth/login", #"{"email":"secret@example.com","password":"\#(password)"}"#, headers: keyHeader)
            #expect(first == .ok)
            let access = try #require(login["access_token"] as? String)
            let refresh = try #require(login["refresh_token"] as? String)
            // A replay of the same key gets the same answer without the secrets.
            let replay = try await client.execute(
                uri: "/v1/auth/login", method: .post, headers: jsonHeaders + keyHeader,
                body: ByteBuffer(string: #"{"email":"secret@example.com","password":"\#(password)"}"#)
            ) { response in
                #expect(response.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
                return response.json
            }
            #expect(replay["access_token"] as? String == Reply.redactedMarker)
            #expect(replay["refresh_token"] as? String == Reply.redactedMarker)
            #expect((replay["user"] as? [String: Any])?["email"] as? String == "secret@example.com")

            // No stored copy anywhere holds the password or a token.
            for secret in [password, access, refresh] {
                try await h.expectNowhereInDatabase(secret)
                try await h.expectNowhereInRedis(secret)
                #expect(!h.logs.text.contains(secret), "a secret reached the logs")
            }
            #expect(h.logs.text.contains("login") || !h.logs.text.isEmpty)
        }
    }

    @Test func bootstrapCreatesTheFirstAdminOnceAndItCanSignIn() async throws {
        try await withAuth { h, client in
            let first = try await h.service.bootstrapAdmin(email: "root@example.com", tenant: "default", now: Date())
            #expect(first.created)
            let password = try #require(first.password)
            let second = try await h.service.bootstrapAdmin(email: "other@example.com", tenant: "default", now: Date())
            #expect(!second.created && second.password == nil && second.email == "root@example.com")
            #expect(try await h.database.collection("users", as: BSONDocument.self).count(["role": "admin"]) == 1)
            let (status, body) = try await client.login("root@example.com", password: password)
            #expect(status == .ok)
            #expect((body["user"] as? [String: Any])?["role"] as? String == "admin")
            let (keys, _) = try await client.get("/v1/api-keys", headers: bearer(body["access_token"] as? String ?? ""))
            #expect(keys == .ok)
        }
    }
}

extension AuthHarness {
    /// Every document of every collection as text, by collection.
    func databaseText() async throws -> [(String, String)] {
        var texts: [(String, String)] = []
        for name in try await database.listCollectionNames() {
            for document in try await database.collection(name, as: BSONDocument.self).find([:]) {
                texts.append((name, "\(document)"))
            }
        }
        return texts
    }

    /// Fails when any document of any collection contains `secret`.
    func expectNowhereInDatabase(_ secret: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        for (name, text) in try await databaseText() {
            #expect(!text.contains(secret), "collection \(name) holds \(secret.prefix(12))…", sourceLocation: sourceLocation)
        }
    }

    /// Fails when any string key under this harness's prefix contains `secret`.
    func expectNowhereInRedis(_ secret: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        for key in try await redis.keys(prefix: names.prefix + ":") {
            if let value = try? await redis.send(GET(key)) {
                #expect(
                    !String(decoding: value, as: UTF8.self).contains(secret), "Redis key \(key) holds a secret",
                    sourceLocation: sourceLocation)
            }
        }
    }

    func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
        try await TestServers.eventually(timeout: timeout, condition)
    }
}
