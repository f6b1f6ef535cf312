@_spi(Testing) @testable import AuthService
import Foundation
import HTTPTypes
import HummingbirdTesting
import JWTKit
import MessageBus
@testable import WorkerRuntime
import Mongo
import NIOCore
import Redis
import TestSupport
import Testing

@Suite("Auth service through the gateway, against real Redis and SecantusDB")
struct AuthFlowTests {
    @Test func signupLoginRefreshReuseAndLogout() async throws {
        try await withAuth { h, client in
            let password = "correct horse battery staple"
            let signup = try await client.signup("Ada@Example.com", password: password)
            #expect(signup.user["email"] as? String == "ada@example.com")
            #expect((signup.user["customer_id"] as? String)?.hasPrefix("cus_") == true)
            // The access token works at the edge; a customer may not call an admin route.
            let (listStatus, _) = try await client.get("/v1/api-keys", headers: bearer(signup.access))
            #expect(listStatus == .forbidden)

            let (loginStatus, login) = try await client.login("ada@example.com", password: password)
            #expect(loginStatus == .ok)
            #expect(login["access_token"] as? String != nil)
            let refresh = try #require(login["refresh_token"] as? String)
            #expect(login["token_type"] as? String == "Bearer")
            #expect(login["expires_in"] as? Int == 900)

            // Refresh rotates: a new pair, and the old refresh token is spent.
            let (rotatedStatus, rotated) = try await client.post("/v1/auth/refresh", #"{"refresh_token":"\#(refresh)"}"#)
            #expect(rotatedStatus == .ok)
            let newRefresh = try #require(rotated["refresh_token"] as? String)
            let newAccess = try #require(rotated["access_token"] as? String)
            #expect(newRefresh != refresh)

            // Presenting the spent one again is reuse: the whole family is revoked, its access tokens deny-listed.
            let (reuseStatus, reuse) = try await client.post("/v1/auth/refresh", #"{"refresh_token":"\#(refresh)"}"#)
            #expect(reuseStatus == .unauthorized)
            #expect(reuse["code"] as? String == "invalid_refresh_token")
            let (afterReuse, _) = try await client.post("/v1/auth/refresh", #"{"refresh_token":"\#(newRefresh)"}"#)
            #expect(afterReuse == .unauthorized)
            let (deniedStatus, denied) = try await client.get("/v1/customers/me", headers: respondAsync + bearer(newAccess))
            #expect(deniedStatus == .unauthorized, "\(denied)")
            #expect(try await h.outboxTypes().contains("auth.refresh_reuse_detected"))

            // Logout: the access token is refused at the edge afterwards, and its refresh token is revoked.
            let (_, second) = try await client.login("ada@example.com", password: password)
            let secondAccess = try #require(second["access_token"] as? String)
            let secondRefresh = try #require(second["refresh_token"] as? String)
            let (meBefore, _) = try await client.get("/v1/customers/me", headers: respondAsync + bearer(secondAccess))
            #expect(meBefore != .unauthorized)
            let (logoutStatus, _) = try await client.post("/v1/auth/logout", "{}", headers: bearer(secondAccess))
            #expect(logoutStatus == .noContent)
            let (meAfter, _) = try await client.get("/v1/customers/me", headers: respondAsync + bearer(secondAccess))
            #expect(meAfter == .unauthorized)
            let (refreshAfterLogout, _) = try await client.post(
                "/v1/auth/refresh", #"{"refresh_token":"\#(secondRefresh)"}"#)
            #expect(refreshAfterLogout == .unauthorized)
        }
    }

    @Test func signupSendsTheCustomerCommandAndAVerificationTokenThatWorksOnce() async throws {
        try await withAuth { h, client in
            let signup = try await client.signup("grace@example.com")
            let outbox = try await h.database.collection(MessagingStore.outbox, as: BSONDocument.self).find([:])
            let command = try #require(outbox.first { $0["type"]?.stringValue == "customer.create" })
            #expect(command["service"]?.stringValue == "customer")
            let envelope = try MessageCoding.decode(Envelope.self, from: command["envelope"]?.stringValue ?? "")
            #expect(envelope.principal.role == .system)
            #expect(envelope.payload["body"]?["id"]?.stringValue == signup.user["customer_id"] as? String)
            #expect(envelope.payload["body"]?["email"]?.stringValue == "grace@example.com")
            // Auth never writes the customers collection itself.
            #expect(try await h.database.collection("customers", as: BSONDocument.self).count([:]) == 0)

            // The event says a login was made, without the token; the token goes to the notifier as a command.
            let registered = try #require(outbox.first { $0["type"]?.stringValue == "user.registered" })
            let event = try MessageCoding.decode(Envelope.self, from: registered["envelope"]?.stringValue ?? "")
            #expect(event.payload["verification_token"] == nil)
            let eventText = registered["envelope"]?.stringValue ?? ""
            #expect(eventText.contains("verification_token") == false, "no token in the event: \(eventText)")
            let notify = try #require(outbox.first { $0["type"]?.stringValue == "notify.email_verification" })
            #expect(notify["service"]?.stringValue == "notify")
            let notification = try MessageCoding.decode(Envelope.self, from: notify["envelope"]?.stringValue ?? "")
            let token = try #require(notification.payload["verification_token"]?.stringValue)
            let (verified, body) = try await client.post("/v1/auth/verify-email", #"{"token":"\#(token)"}"#)
            #expect(verified == .ok)
            #expect(body["email_verified"] as? Bool == true)
            let (again, againBody) = try await client.post("/v1/auth/verify-email", #"{"token":"\#(token)"}"#)
            #expect(again == .badRequest)
            #expect(againBody["code"] as? String == "invalid_token")
            let user = try await h.database.collection("users", as: BSONDocument.self).findOne(["email": "grace@example.com"])
            #expect(user?["email_verified"]?.boolValue == true)
        }
    }

    @Test func weakPasswordsAreRefusedListingEveryRuleAndDuplicateEmailsConflict() async throws {
        try await withAuth { _, client in
            // Common (from the shipped list) and too short are reported together by the gateway's schema
            // (minLength) first; the worker's policy names every rule a long enough password breaks.
            let (common, commonBody) = try await client.post(
                "/v1/auth/signup", #"{"email":"x@example.com","password":"qwertyuiop","name":"X"}"#)
            #expect(common == .unprocessableContent)
            #expect(commonBody["param"] as? String == "password")
            #expect((commonBody["detail"] as? String)?.contains("common") == true)
            let (mail, mailBody) = try await client.post(
                "/v1/auth/signup", #"{"email":"margaret.hamilton@example.com","password":"margaret.hamilton@example.com","name":"M"}"#)
            #expect(mail == .unprocessableContent)
            #expect((mailBody["detail"] as? String)?.contains("email") == true)
            let (short, shortBody) = try await client.post(
                "/v1/auth/signup", #"{"email":"y@example.com","password":"short","name":"Y"}"#)
            // Too short fails the OpenAPI schema at the edge already (400 naming the field).
            #expect(short == .badRequest)
            #expect((shortBody["param"] as? String)?.contains("password") == true)

            _ = try await client.signup("dup@example.com")
            let (dup, dupBody) = try await client.post(
                "/v1/auth/signup", #"{"email":"DUP@example.com","password":"another fine passphrase","name":"D"}"#)
            #expect(dup == .conflict)
            #expect(dupBody["code"] as? String == "email_taken")
        }
    }

    @Test func repeatedFailuresLockTheAccountAndTheLockEnds() async throws {
        try await withAuth(configure: { $0.lockoutBase = 2 }) { h, client in
            let password = "a perfectly fine passphrase"
            _ = try await client.signup("lock@example.com", password: password)
            // Unknown email and wrong password: the same 401.
            let (unknown, unknownBody) = try await client.login("nobody@example.com", password: password)
            #expect(unknown == .unauthorized)
            var wrongBody: [String: Any] = [:]
            for _ in 0..<5 {
                let (status, body) = try await client.login("lock@example.com", password: "wrong password here")
                #expect(status == .unauthorized)
                wrongBody = body
            }
            #expect(unknownBody["code"] as? String == wrongBody["code"] as? String)
            #expect(unknownBody["detail"] as? String == wrongBody["detail"] as? String)
            // Locked now: even the right password is refused until the lock ends.
            let (locked, lockedBody) = try await client.login("lock@example.com", password: password)
            #expect(locked == .tooManyRequests)
            #expect(lockedBody["code"] as? String == "too_many_attempts")
            try await Task.sleep(for: .milliseconds(2300))
            let (after, _) = try await client.login("lock@example.com", password: password)
            #expect(after == .ok)
            #expect(try await h.outboxTypes().filter { $0 == "user.login_failed" }.count == 6)
        }
    }

    @Test func aStrangersFailuresLockOnlyItsOwnAddressOutOfAnAccount() async throws {
        try await withAuth(configure: { $0.lockoutBase = 30 }) { h, _ in
            let throttle = LoginThrottle(redis: h.redis, configuration: h.configuration)
            for _ in 0..<5 {
                try await throttle.recordFailure(tenant: "default", email: "owner@example.com", ip: "203.0.113.66")
            }
            #expect(try await throttle.lockedFor(tenant: "default", email: "owner@example.com", ip: "203.0.113.66") != nil)
            // The owner, from its own address, is not locked out; the stranger's address is, from that account.
            #expect(try await throttle.lockedFor(tenant: "default", email: "owner@example.com", ip: "198.51.100.7") == nil)
            #expect(try await throttle.lockedFor(tenant: "default", email: "other@example.com", ip: "203.0.113.66") == nil)
            // An address failing across many accounts is locked as an address (20 failures).
            for index in 0..<20 {
                try await throttle.recordFailure(tenant: "default", email: "victim\(index)@example.com", ip: "203.0.113.99")
            }
            #expect(try await throttle.lockedFor(tenant: "default", email: "anyone@example.com", ip: "203.0.113.99") != nil)
        }
    }

    @Test func keyRotationKeepsOldTokensValidUntilTheyExpire() async throws {
        try await withAuth { h, client in
            let first = try await client.signup("rot@example.com")
            let firstKid = try Self.kid(first.access)
            let newKid = try await h.service.keys.rotate(now: Date())
            #expect(newKid != firstKid)
            // Workers pick the new key up within their reload interval; a fresh store sees it at once.
            let fresh = AuthService(configuration: h.configuration, database: h.database, redis: h.redis)
            let jwks = try JSONSerialization.jsonObject(with: try await fresh.keys.jwks(now: Date())) as? [String: Any]
            let kids = ((jwks?["keys"] as? [[String: Any]]) ?? []).compactMap { $0["kid"] as? String }
            #expect(Set(kids) == [firstKid, newKid])
            // The old token still verifies at the edge.
            let (old, _) = try await client.get("/v1/customers/me", headers: respondAsync + bearer(first.access))
            #expect(old != .unauthorized)
            // After its window (access TTL + reload + margin) the retired key leaves the JWKS.
            let later = try JSONSerialization.jsonObject(
                with: try await fresh.keys.jwks(now: Date().addingTimeInterval(900 + 30 + 61))) as? [String: Any]
            let laterKids = ((later?["keys"] as? [[String: Any]]) ?? []).compactMap { $0["kid"] as? String }
            #expect(laterKids == [newKid])
            // Private keys are sealed at rest: no PEM in the collection.
            let stored = try await h.database.collection(SigningKeyStore.collection, as: BSONDocument.self).find([:])
            #expect(stored.count == 2)
            #expect(stored.allSatisfy { !($0["sealed_private_key"]?.stringValue ?? "BEGIN").contains("BEGIN") })
        }
    }

    @Test func tamperedExpiredAndForeignKeyTokensAreRefused() async throws {
        try await withAuth { h, client in
            let signup = try await client.signup("tamper@example.com")
            let parts = signup.access.split(separator: ".").map(String.init)
            try #require(parts.count == 3)
            // Tampered: the role changed to admin in the payload, signature kept.
            var payload = try #require(Data(base64URL: parts[1]))
            var claims = try #require(try JSONSerialization.jsonObject(with: payload) as? [String: Any])
            claims["role"] = "admin"
            payload = try JSONSerialization.data(withJSONObject: claims)
            let tampered = [parts[0], payload.base64URLEncoded(), parts[2]].joined(separator: ".")
            let (t, _) = try await client.get("/v1/api-keys", headers: bearer(tampered))
            #expect(t == .unauthorized)
            // Foreign key: the same claims and kid, signed with a key the auth service never had.
            let foreign = JWTKeyCollection()
            let kid = try Self.kid(signup.access)
            await foreign.add(ecdsa: ES256PrivateKey(), kid: JWKIdentifier(string: kid))
            let forged = try await foreign.sign(
                ForgedClaims(
                    iss: "billing", aud: ["billing-api"], sub: "usr_x", tenant: "default", role: "admin", jti: "j",
                    exp: Date().addingTimeInterval(600), nbf: Date().addingTimeInterval(-10)),
                kid: JWKIdentifier(string: kid))
            let (f, _) = try await client.get("/v1/api-keys", headers: bearer(forged))
            #expect(f == .unauthorized)
            // Expired: issued by the real service 20 minutes ago.
            let expired = try await h.service.accessTokenForTests(
                subject: "usr_old", role: "admin", tenant: "default", now: Date().addingTimeInterval(-1200))
            let (e, eBody) = try await client.get("/v1/api-keys", headers: bearer(expired))
            #expect(e == .unauthorized)
            #expect((eBody["detail"] as? String)?.contains("expired") == true)
            // The same, issued now, passes: the refusals above were about the token, not the route.
            let fresh = try await h.service.accessTokenForTests(subject: "usr_new", role: "admin", tenant: "default", now: Date())
            let (ok, _) = try await client.get("/v1/api-keys", headers: bearer(fresh))
            #expect(ok == .ok)
        }
    }

    struct ForgedClaims: JWTPayload {
        var iss: String
        var aud: [String]
        var sub: String
        var tenant: String
        var role: String
        var jti: String
        var exp: Date
        var nbf: Date
        func verify(using algorithm: some JWTAlgorithm) async throws {}
        enum CodingKeys: String, CodingKey { case iss, aud, sub, tenant, role, jti, exp, nbf }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(iss, forKey: .iss)
            try c.encode(aud, forKey: .aud)
            try c.encode(sub, forKey: .sub)
            try c.encode(tenant, forKey: .tenant)
            try c.encode(role, forKey: .role)
            try c.encode(jti, forKey: .jti)
            try c.encode(Int(exp.timeIntervalSince1970), forKey: .exp)
            try c.encode(Int(nbf.timeIntervalSince1970), forKey: .nbf)
        }
    }

    static func kid(_ token: String) throws -> String {
        let segment = try #require(token.split(separator: ".").first, "a token has a header")
        let header = try #require(Data(base64URL: String(segment)))
        let json = try JSONSerialization.jsonObject(with: header) as? [String: Any]
        return try #require(json?["kid"] as? String)
    }
}

extension AuthHarness {
    func outboxTypes() async throws -> [String] {
        try await database.collection(MessagingStore.outbox, as: BSONDocument.self).find([:]).compactMap {
            $0["type"]?.stringValue
        }
    }

    /// An admin's access token made by the service itself (bootstrap + login would do the same, slower).
    func adminToken() async throws -> String {
        try await service.accessTokenForTests(subject: "usr_admin", role: "admin", tenant: "default", now: Date())
    }
}

extension Data {
    init?(base64URL text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64.append("=") }
        self.init(base64Encoded: base64)
    }

    func base64URLEncoded() -> String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

@Suite("Auth with the customer service: signup creates the profile, erasure erases the login")
struct AuthCustomerTests {
    @Test func signupCreatesTheCustomerAndErasureErasesTheLogin() async throws {
        try await withAuth(withCustomers: true) { h, client in
            let password = "a sufficiently long passphrase"
            let signup = try await client.signup("Erin.Erasable@example.com", password: password)
            let customerID = try #require(signup.user["customer_id"] as? String)
            // The customer service created the profile under the id the token already carries, before
            // signup answered: the first request with the new token finds it (read-your-writes).
            let (meStatus, me) = try await client.get("/v1/customers/me", headers: bearer(signup.access))
            #expect(meStatus == .ok, "\(me)")
            #expect(me["id"] as? String == customerID)
            #expect(me["email"] as? String == "erin.erasable@example.com")

            // The scan below sees personal data where it is (users, customers, the ledger) ...
            let before = try await h.databaseText().filter { $0.1.contains("erin.erasable") }.map(\.0)
            #expect(Set(before).isSuperset(of: ["users", "customers", "processed_messages"]), "\(before)")
            // ... then an admin erases the customer: the login goes too, and nothing personal is left anywhere.
            let admin = try await h.adminToken()
            let (deleted, _) = try await client.execute(
                uri: "/v1/customers/\(customerID)", method: .delete, headers: bearer(admin)
            ) { ($0.status, $0.json) }
            #expect(deleted == .ok)
            let users = h.database.collection("users", as: BSONDocument.self)
            #expect(try await h.eventually { try await users.findOne(["customer_id": .string(customerID)])?["status"]?.stringValue == "erased" })
            let (login, _) = try await client.login("erin.erasable@example.com", password: password)
            #expect(login == .unauthorized)
            // The access token issued before the erasure stops working now, not when it expires (checked
            // before the refresh below, whose reuse would deny-list it anyway).
            #expect(try await h.eventually {
                try await client.get("/v1/customers/me", headers: bearer(signup.access)).0 == .unauthorized
            })
            let (refresh, _) = try await client.post("/v1/auth/refresh", #"{"refresh_token":"\#(signup.refresh)"}"#)
            #expect(refresh == .unauthorized)
            try await h.expectNowhereInDatabase("erin.erasable")
            try await h.expectNowhereInDatabase("Ada Lovelace")
        }
    }
}

@Suite("Auth schemas")
struct AuthSchemaTests {
    static let repository = TestServers.repository

    @Test func everyAuthCommandAndEventHasASchema() async throws {
        // Events raised in a signup, login failure, verification, refresh reuse and logout flow.
        try await withAuth { h, client in
            let commands = Self.repository.appendingPathComponent("schemas/commands")
            for type in h.service.registry().types {
                let data = try Data(contentsOf: commands.appendingPathComponent("\(type).json"))
                let schema = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
                #expect(schema["title"] as? String == type)
            }
            let signup = try await client.signup("schema@example.com")
            _ = try await client.login("schema@example.com", password: "wrong password 123")
            _ = try await client.post("/v1/auth/refresh", #"{"refresh_token":"\#(signup.refresh)"}"#)
            _ = try await client.post("/v1/auth/refresh", #"{"refresh_token":"\#(signup.refresh)"}"#)
            let admin = try await h.adminToken()
            _ = try await client.post("/v1/api-keys", #"{"name":"k","scopes":["customers:read"]}"#, headers: bearer(admin))
            _ = try await client.post("/v1/oauth/clients", #"{"name":"c","scopes":["customers:read"]}"#, headers: bearer(admin))
            let events = Self.repository.appendingPathComponent("schemas/events")
            var seen: Set<String> = []
            for entry in try await h.database.collection(MessagingStore.outbox, as: BSONDocument.self).find([:])
            where entry["service"] == nil {
                let envelope = try MessageCoding.decode(Envelope.self, from: entry["envelope"]?.stringValue ?? "")
                seen.insert(envelope.type)
                let data = try Data(contentsOf: events.appendingPathComponent("\(envelope.type).json"))
                let schema = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
                let properties = Set((schema["properties"] as? [String: Any] ?? [:]).keys)
                guard case .object(let payload) = envelope.payload else { continue }
                #expect(Set(payload.keys).isSubset(of: properties), "\(envelope.type)")
                #expect(Set(schema["required"] as? [String] ?? []).isSubset(of: Set(payload.keys)), "\(envelope.type)")
            }
            #expect(seen.isSuperset(of: ["user.registered", "user.login_failed", "auth.refresh_reuse_detected", "api_key.created", "oauth_client.created"]))
        }
    }
}

/// Two uses of one refresh token at once (issue 17, item 12): whichever wins, the family is
/// revoked, so a stolen copy raced against the owner's leaves no live session behind.
@Suite("Auth: concurrent refresh")
struct AuthConcurrentRefreshTests {
    @Test func aRefreshTokenUsedTwiceAtOnceRevokesItsFamily() async throws {
        // Two consumers: both uses read the token as active, and the loser finds it rotated at commit.
        try await withAuth(authConsumers: 2) { h, client in
            let password = "correct horse battery staple"
            _ = try await client.signup("race@example.com", password: password)
            for round in 0..<4 {
                let (_, login) = try await client.login("race@example.com", password: password)
                let refresh = try #require(login["refresh_token"] as? String)
                let body = #"{"refresh_token":"\#(refresh)"}"#
                async let first = client.post("/v1/auth/refresh", body)
                async let second = client.post("/v1/auth/refresh", body)
                let answers = try await [first, second]
                #expect(answers.filter { $0.0 == .ok }.count <= 1, "round \(round): one rotation at most")
                #expect(answers.contains { $0.0 == .unauthorized }, "round \(round): the other use is refused")
                // Whatever the winner got is dead too: its refresh token and, at the edge, its access token.
                if let winner = answers.first(where: { $0.0 == .ok })?.1 {
                    let newRefresh = try #require(winner["refresh_token"] as? String)
                    let access = try #require(winner["access_token"] as? String)
                    let (again, _) = try await client.post("/v1/auth/refresh", #"{"refresh_token":"\#(newRefresh)"}"#)
                    #expect(again == .unauthorized, "round \(round): the winner's refresh token is revoked")
                    let denied = try await TestServers.eventually(timeout: .seconds(5)) {
                        try await client.get("/v1/api-keys", headers: bearer(access)).0 == .unauthorized
                    }
                    #expect(denied, "round \(round): the winner's access token is deny-listed")
                }
            }
        }
    }
}

/// Secrets do not wait in Redis (issue 17, item 8): a processed command that carries one (a
/// password, a refresh token) is deleted from its stream, the gateway deletes the replies it read
/// (a new client secret, tokens), and a dead letter keeps secrets redacted.
@Suite("Auth: secrets in Redis")
struct AuthSecretsInRedisTests {
    @Test func processedSecretCommandsAndReadRepliesAreDeleted() async throws {
        try await withAuth { h, client in
            let password = "a secret nobody should find in redis"
            let signup = try await client.signup("grace@example.com", password: password)
            let (loginStatus, login) = try await client.login("grace@example.com", password: password)
            #expect(loginStatus == .ok)
            let refresh = try #require(login["refresh_token"] as? String)
            let admin = try await h.adminToken()
            let (created, body) = try await client.post(
                "/v1/oauth/clients", #"{"name":"ERP","scopes":["customers:read"]}"#, headers: bearer(admin))
            #expect(created == .created)
            let clientSecret = try #require(body["client_secret"] as? String)
            #expect(!signup.access.isEmpty)

            // Every key under the test's prefix, streams read in full: none holds a secret.
            func redisText() async throws -> String {
                var text = ""
                for key in try await h.redis.keys(prefix: h.names.prefix + ":") {
                    let type = try await h.redis.execute(["TYPE", RedisArgument(key)])
                    if type.string == "stream" {
                        text += "\(try await h.redis.execute(["XRANGE", RedisArgument(key), "-", "+"]))"
                    } else if type.string == "string" {
                        text += "\(try await h.redis.execute(["GET", RedisArgument(key)]))"
                    }
                }
                return text
            }
            let clean = try await TestServers.eventually(timeout: .seconds(10)) {
                let text = try await redisText()
                return !text.contains(password) && !text.contains(refresh) && !text.contains(clientSecret)
            }
            #expect(clean, "a password, refresh token or client secret is still in Redis")
            // The auth stream still holds the commands without secrets (the OAuth client's creation).
            let entries = try await h.redis.send(XRANGE(h.names.commands("auth")))
            #expect(entries.contains { $0.fields[CommandBus.envelopeField].map { $0.contains("oauth_client.create") } ?? false })
            #expect(!entries.contains { $0.fields[CommandBus.envelopeField].map { $0.contains("auth.login") } ?? false })
        }
    }

    @Test func deadLettersKeepSecretsRedacted() throws {
        let envelope = Envelope(
            type: "auth.login", replyTo: "", principal: Principal(subject: "anonymous", role: .customer, tenant: "default"),
            payload: .object(["body": .object(["email": .string("a@example.com"), "password": .string("hunter2hunter2")])]),
            createdAt: Date())
        let raw = String(decoding: try MessageCoding.encode(envelope), as: UTF8.self)
        let redacted = ConsumerGroupRunner.redactingSecrets(raw)
        #expect(!redacted.contains("hunter2hunter2"))
        #expect(redacted.contains("[redacted]") && redacted.contains("a@example.com"))
        #expect(ConsumerGroupRunner.redactingSecrets("not an envelope") == "not an envelope")
    }
}

@Suite("Signup into a tenant")
struct TenantSignupTests {
    @Test func billingTenantSelectsAnExistingTenantAndAnUnknownOneIsRefused() async throws {
        try await withAuth { h, client in
            let body = #"{"email":"ten@example.com","password":"correct horse battery staple","name":"Ten Ant"}"#
            let tenant = HTTPField.Name("Billing-Tenant")!
            let (unknown, refused) = try await client.post("/v1/auth/signup", body, headers: [tenant: "nowhere"])
            #expect(unknown == .unprocessableContent && refused["param"] as? String == "Billing-Tenant", "\(refused)")
            let (malformed, bad) = try await client.post("/v1/auth/signup", body, headers: [tenant: "Not A Tenant"])
            #expect(malformed == .badRequest && bad["param"] as? String == "Billing-Tenant", "\(bad)")
            #expect(try await h.database.collection("users", as: BSONDocument.self).count([:]) == 0)
            _ = try await h.database.collection("tenants", as: BSONDocument.self).insertOne([
                "_id": "acme", "name": "Acme", "created_at": .datetime(millisecondsOf: Date()),
                "updated_at": .datetime(millisecondsOf: Date()), "version": 1,
            ])
            let (created, answer) = try await client.post("/v1/auth/signup", body, headers: [tenant: "acme"])
            #expect(created == .created, "\(answer)")
            let user = try await h.database.collection("users", as: BSONDocument.self).findOne(["email": "ten@example.com"])
            #expect(user?["tenant_id"]?.stringValue == "acme")
        }
    }
}
