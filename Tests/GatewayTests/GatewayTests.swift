import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import Logging
import MessageBus
import NIOCore
import Redis
import TestSupport
import Testing

@testable import Gateway

let requestIDName = HTTPField.Name("Request-Id")!

/// Headers every response must carry, errors included.
func expectSecurityHeaders(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(response.headers[requestIDName] != nil, sourceLocation: sourceLocation)
    #expect(response.headers[.strictTransportSecurity] != nil, sourceLocation: sourceLocation)
    #expect(response.headers[.xContentTypeOptions] == "nosniff", sourceLocation: sourceLocation)
    #expect(response.headers[HTTPField.Name("X-Frame-Options")!] == "DENY", sourceLocation: sourceLocation)
    #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer", sourceLocation: sourceLocation)
    #expect(response.headers[.contentSecurityPolicy]?.hasPrefix("default-src 'none'") == true, sourceLocation: sourceLocation)
}

@Suite("Gateway: requests become commands")
struct GatewayPipelineTests {
    @Test func syncReadIsAnsweredByTheWorkerWithPathQueryAndBodyInThePayload() async throws {
        try await withHarness { h in
            let auth = try await h.bearer()
            try await h.application().test(.router) { client in
                try await client.execute(
                    uri: "/v1/test/echo?x=1", method: .get, headers: auth + [requestIDName: "client-req-1"]
                ) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[requestIDName] == "client-req-1")
                    #expect(response.headers[.cacheControl] == "no-store")
                    expectSecurityHeaders(response)
                    let query = response.json["query"] as? [String: Any]
                    #expect(query?["x"] as? String == "1")
                    #expect(response.json["body"] as? [String: Any] != nil)
                }
            }
        }
    }

    @Test func writeCommandRunsOnceAndReturnsTheWorkerStatus() async throws {
        try await withHarness { h in
            let auth = try await h.bearer()
            try await h.application().test(.router) { client in
                try await client.execute(
                    uri: "/v1/test/items", method: .post, headers: auth + jsonHeaders, body: jsonBody(#"{"key":"a"}"#)
                ) { response in
                    #expect(response.status == .created)
                }
            }
            #expect(try await h.itemCount() == 1)
        }
    }

    @Test func errorReplyBecomesProblemJSON() async throws {
        try await withHarness { h in
            let auth = try await h.bearer()
            try await h.application().test(.router) { client in
                try await client.execute(uri: "/v1/test/refuse", method: .post, headers: auth) { response in
                    #expect(response.status == .unprocessableContent)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    #expect(response.json["param"] as? String == "key")
                    #expect(response.json["request_id"] as? String == response.headers[requestIDName])
                    expectSecurityHeaders(response)
                }
            }
        }
    }

    @Test func respondAsyncAnswers202AndTheOperationCanBePolledByItsOwnerOrAnAdminOnly() async throws {
        try await withHarness { h in
            let owner = try await h.bearer(h.claims(subject: "usr_c1", role: "customer"))
            let other = try await h.bearer(h.claims(subject: "usr_c2", role: "customer"))
            let admin = try await h.bearer()
            let otherTenantAdmin = try await h.bearer(h.claims(subject: "usr_x", tenant: "other"))
            try await h.application().test(.router) { client in
                let location = try await client.execute(
                    uri: "/v1/test/items", method: .post, headers: owner + jsonHeaders + [GatewayHeaders.prefer: "respond-async"],
                    body: jsonBody(#"{"key":"b"}"#)
                ) { response -> String in
                    #expect(response.status == .accepted)
                    #expect(response.headers[.retryAfter] != nil)
                    #expect(response.headers[GatewayHeaders.preferenceApplied] == "respond-async")
                    return response.headers[.location] ?? ""
                }
                #expect(location.hasPrefix("/v1/operations/"))
                var status = ""
                for _ in 0..<100 {
                    status = try await client.execute(uri: location, method: .get, headers: owner) { response in
                        #expect(response.status == .ok)
                        return response.json["status"] as? String ?? ""
                    }
                    if status != "pending" { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(status == "succeeded")
                try await client.execute(uri: location, method: .get, headers: owner) { response in
                    #expect(response.json["http_status"] as? Int == 201)
                    #expect((response.json["result"] as? [String: Any]) != nil)
                    #expect(response.json["completed_at"] as? String != nil)
                }
                try await client.execute(uri: location, method: .get, headers: other) { response in
                    #expect(response.status == .notFound)
                }
                try await client.execute(uri: location, method: .get, headers: otherTenantAdmin) { response in
                    #expect(response.status == .notFound)
                }
                try await client.execute(uri: location, method: .get, headers: admin) { response in
                    #expect(response.status == .ok)
                }
            }
        }
    }

    @Test func timeoutAnswers202WithAPendingOperation() async throws {
        try await withHarness { h in
            let auth = try await h.bearer()
            try await h.application().test(.router) { client in
                let location = try await client.execute(
                    uri: "/v1/test/void", method: .post, headers: auth + [GatewayHeaders.prefer: "wait=0.2"]
                ) { response -> String in
                    #expect(response.status == .accepted)
                    return response.headers[.location] ?? ""
                }
                try await client.execute(uri: location, method: .get, headers: auth) { response in
                    #expect(response.status == .ok)
                    #expect(response.json["status"] as? String == "pending")
                    #expect(response.json["created_at"] as? String != nil)
                }
                try await client.execute(uri: "/v1/operations/does-not-exist", method: .get, headers: auth) { response in
                    #expect(response.status == .notFound)
                    #expect(response.headers[.contentType] == "application/problem+json")
                }
            }
        }
    }
}

@Suite("Gateway: authentication at the edge")
struct GatewayAuthTests {
    @Test func refusesMissingExpiredTamperedNoneAndUnknownKidTokens() async throws {
        try await withHarness { h in
            let valid = try await h.token()
            let expired = try await h.token(h.claims(expires: Date().addingTimeInterval(-3600)))
            let wrongAudience = try await h.token(h.claims(audience: "someone-else"))
            // Tampered: the payload of a customer token swapped for an admin one, signature kept.
            let customer = try await h.token(h.claims(subject: "usr_c", role: "customer"))
            let adminPayload = valid.split(separator: ".")[1]
            let customerParts = customer.split(separator: ".")
            let tampered = "\(customerParts[0]).\(adminPayload).\(customerParts[2])"
            // alg none, with a known kid.
            let noneHeader = Data(#"{"alg":"none","typ":"JWT","kid":"\#(h.kid)"}"#.utf8).base64URLEncoded
            let algNone = "\(noneHeader).\(adminPayload)."
            // Signed by a key the auth service never published.
            let rogue = ES256PrivateKey()
            let rogueKeys = JWTKeyCollection()
            await rogueKeys.add(ecdsa: rogue, kid: "rogue")
            let unknownKid = try await rogueKeys.sign(h.claims(), kid: "rogue")
            // Right kid, wrong key.
            let forged = try await rogueKeys.sign(h.claims(), kid: "rogue", header: ["kid": .string(h.kid)])

            try await h.application().test(.router) { client in
                try await client.execute(uri: "/v1/test/echo", method: .get) { response in
                    #expect(response.status == .unauthorized)
                    expectSecurityHeaders(response)
                }
                try await client.execute(uri: "/v1/test/echo", method: .get, headers: [.authorization: "Bearer \(valid)"]) {
                    #expect($0.status == .ok)
                }
                for (name, token) in [
                    ("expired", expired), ("audience", wrongAudience), ("tampered", tampered), ("none", algNone),
                    ("unknown kid", unknownKid), ("forged", forged), ("garbage", "not.a.jwt"),
                ] {
                    try await client.execute(uri: "/v1/test/echo", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                        response in
                        #expect(response.status == .unauthorized, "\(name)")
                        #expect(response.headers[.contentType] == "application/problem+json", "\(name)")
                        expectSecurityHeaders(response)
                    }
                }
            }
        }
    }

    @Test func anUnknownKidMakesTheGatewayReloadTheJWKS() async throws {
        try await withHarness { h in
            let rotated = ES256PrivateKey()
            let rotatedKeys = JWTKeyCollection()
            await rotatedKeys.add(ecdsa: rotated, kid: "rotated")
            let token = try await rotatedKeys.sign(h.claims(), kid: "rotated")
            try await h.application().test(.router) { client in
                try await client.execute(uri: "/v1/test/echo", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                    #expect($0.status == .unauthorized)
                }
                // The auth service rotates: the new key is published.
                try await h.publishJWKS([(h.kid, h.signingKey), ("rotated", rotated)])
                try await Task.sleep(for: .milliseconds(1100))
                try await client.execute(uri: "/v1/test/echo", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                    #expect($0.status == .ok)
                }
            }
        }
    }

    @Test func concurrentFirstRequestsAllSeeTheKeysWhileTheJWKSLoads() async throws {
        // The JWKS cache starts empty; many requests arriving during its first load must wait for
        // that load, not be refused (seen under wrk as a few 401s at the start of a run).
        try await withHarness { h in
            let headers = try await h.bearer()
            try await h.application().test(.router) { client in
                let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for _ in 0..<40 {
                        group.addTask { try await client.execute(uri: "/v1/test/echo", method: .get, headers: headers) { $0.status } }
                    }
                    var all: [HTTPResponse.Status] = []
                    for try await status in group { all.append(status) }
                    return all
                }
                #expect(statuses.count == 40)
                #expect(statuses.allSatisfy { $0 == .ok }, "\(statuses.filter { $0 != .ok })")
            }
        }
    }

    @Test func revokedTokensAreRefusedAndAPIKeysAreLookedUpByHash() async throws {
        try await withHarness { h in
            let jti = UUID().uuidString
            let token = try await h.token(h.claims(jti: jti))
            let apiKey = "sk_test_\(UUID().uuidString.lowercased())"
            let authenticator = Authenticator(redis: h.redis, configuration: h.configuration)
            _ = try await h.redis.send(
                SET(
                    authenticator.apiKeyKey(apiKey),
                    value: RedisArgument(#"{"subject":"key_1","role":"service","scopes":["test:use"],"tenant":"default"}"#)))
            try await h.application().test(.router) { client in
                try await client.execute(uri: "/v1/test/echo", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                    #expect($0.status == .ok)
                }
                _ = try await h.redis.send(SET(authenticator.denyKey(jti), value: "1", expiry: .seconds(900)))
                try await client.execute(uri: "/v1/test/echo", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                    #expect($0.status == .unauthorized)
                }
                try await client.execute(uri: "/v1/test/echo", method: .get, headers: [.authorization: "Bearer \(apiKey)"]) {
                    #expect($0.status == .ok)
                }
                try await client.execute(uri: "/v1/test/echo", method: .get, headers: [GatewayHeaders.apiKey: apiKey]) {
                    #expect($0.status == .ok)
                }
                try await client.execute(
                    uri: "/v1/test/echo", method: .get, headers: [.authorization: "Bearer sk_test_unknown"]
                ) {
                    #expect($0.status == .unauthorized)
                }
            }
        }
    }

    @Test func roleAndScopeAreCheckedBeforeAnythingIsSent() async throws {
        try await withHarness { h in
            let customer = try await h.bearer(h.claims(subject: "usr_c", role: "customer"))
            let serviceWithoutScope = try await h.bearer(h.claims(subject: "svc", role: "service", scope: "other:read"))
            try await h.application().test(.router) { client in
                try await client.execute(uri: "/v1/test/admin-only", method: .post, headers: customer) {
                    #expect($0.status == .forbidden)
                }
                try await client.execute(uri: "/v1/test/echo", method: .get, headers: serviceWithoutScope) {
                    #expect($0.status == .forbidden)
                }
                // Public routes need no credentials.
                try await client.execute(uri: "/v1/test/public-echo", method: .get) { #expect($0.status == .ok) }
            }
            // Entries ever added (answered reads are deleted from the stream): only the public echo was sent.
            let info = try await h.redis.execute(["XINFO", "STREAM", RedisArgument(h.names.commands(GatewayHarness.testService))])
            let fields = info.array ?? []
            let added = zip(fields, fields.dropFirst()).first { $0.0.string == "entries-added" }?.1.int
            #expect(added == 1)
        }
    }
}

@Suite("Gateway: rate limits, CORS, body checks")
struct GatewayEdgeTests {
    @Test func rateLimitIsSharedByTwoGatewayInstancesAndAnswers429WithHeaders() async throws {
        try await withHarness(configure: { $0.principalLimit = RateLimitTier(rate: 0.01, burst: 3) }) { h in
            let auth = try await h.bearer()
            let gateway = h.gateway()
            let first = gateway.buildApplication()
            let second = h.application()
            try await first.test(.router) { one in
                try await second.test(.router) { two in
                    for (index, client) in [one, two, one].enumerated() {
                        try await client.execute(uri: "/v1/test/echo", method: .get, headers: auth) { response in
                            #expect(response.status == .ok)
                            #expect(response.headers[GatewayHeaders.rateLimitLimit] == "3")
                            #expect(response.headers[GatewayHeaders.rateLimitRemaining] == String(2 - index))
                        }
                    }
                    try await two.execute(uri: "/v1/test/echo", method: .get, headers: auth) { response in
                        #expect(response.status == .tooManyRequests)
                        #expect(Int(response.headers[.retryAfter] ?? "") ?? 0 >= 1)
                        #expect(response.headers[GatewayHeaders.rateLimitLimit] == "3")
                        #expect(response.headers[GatewayHeaders.rateLimitRemaining] == "0")
                        #expect(response.headers[GatewayHeaders.rateLimitReset] != nil)
                        #expect(response.headers[.contentType] == "application/problem+json")
                        expectSecurityHeaders(response)
                    }
                    let metricsOne = try await one.execute(uri: "/metrics", method: .get) { $0.text }
                    #expect(metricsOne.contains(#"billing_gateway_requests_total{route="GET /v1/test/echo",status="200"} 2"#))
                    let metricsTwo = try await two.execute(uri: "/metrics", method: .get) { $0.text }
                    #expect(metricsTwo.contains(#"billing_gateway_rate_limited_total{tier="principal"} 1"#))
                    #expect(metricsTwo.contains(#"billing_gateway_requests_total{route="GET /v1/test/echo",status="429"} 1"#))
                }
            }
        }
    }

    @Test func refusedInputIsCountedAndARefusedRequestSendsNothing() async throws {
        // The rate limit of an ordinary request is counted in the script that sends it; a request
        // refused before that (bad body here) is still counted, and an over-limit one sends nothing.
        try await withHarness(configure: { $0.principalLimit = RateLimitTier(rate: 0.01, burst: 3) }) { h in
            let auth = try await h.bearer()
            let json: HTTPFields = auth + [.contentType: "application/json"]
            try await h.application().test(.router) { client in
                try await client.execute(
                    uri: "/v1/test/customers", method: .post, headers: json, body: ByteBuffer(string: #"{"name":1}"#)
                ) { response in
                    #expect(response.status == .badRequest || response.status == .unprocessableContent)
                    #expect(response.headers[GatewayHeaders.rateLimitRemaining] == "2")
                }
                try await client.execute(uri: "/v1/test/echo", method: .get, headers: auth) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[GatewayHeaders.rateLimitRemaining] == "1")
                }
                try await client.execute(uri: "/v1/test/items", method: .post, headers: json, body: ByteBuffer(string: "{")) {
                    #expect($0.status == .badRequest)
                    #expect($0.headers[GatewayHeaders.rateLimitRemaining] == "0")
                }
                // The stream's last id, not its length: the worker deletes the entries it has settled.
                let stream = h.names.commands(GatewayHarness.testService)
                let sent = try await h.redis.send(XINFO_STREAM(stream)).lastGeneratedID
                try await client.execute(
                    uri: "/v1/test/items", method: .post, headers: json, body: ByteBuffer(string: #"{"key":"k"}"#)
                ) { #expect($0.status == .tooManyRequests) }
                #expect(try await h.redis.send(XINFO_STREAM(stream)).lastGeneratedID == sent)
            }
        }
    }

    @Test func authRoutesUseTheStricterPerIPTier() async throws {
        try await withHarness(configure: { $0.authLimit = RateLimitTier(rate: 0.1, burst: 2) }) { h in
            try await h.application().test(.router) { client in
                for _ in 0..<2 {
                    try await client.execute(uri: "/v1/test/login", method: .post) { #expect($0.status == .ok) }
                }
                try await client.execute(uri: "/v1/test/login", method: .post) { #expect($0.status == .tooManyRequests) }
                // Other routes for the same IP are not affected.
                try await client.execute(uri: "/v1/test/public-echo", method: .get) { #expect($0.status == .ok) }
            }
        }
    }

    @Test func corsPreflightIsAllowedForListedOriginsAndRefusedForOthers() async throws {
        try await withHarness(startWorker: false) { h in
            try await h.application().test(.router) { client in
                try await client.execute(
                    uri: "/v1/customers", method: .options,
                    headers: [.origin: "https://app.example.com", .accessControlRequestMethod: "POST"]
                ) { response in
                    #expect(response.status == .noContent)
                    #expect(response.headers[.accessControlAllowOrigin] == "https://app.example.com")
                    #expect(response.headers[.accessControlAllowMethods]?.contains("POST") == true)
                    #expect(response.headers[.accessControlAllowHeaders]?.contains("Idempotency-Key") == true)
                    expectSecurityHeaders(response)
                }
                try await client.execute(
                    uri: "/v1/customers", method: .options,
                    headers: [.origin: "https://evil.example.com", .accessControlRequestMethod: "POST"]
                ) { response in
                    #expect(response.status == .forbidden)
                    #expect(response.headers[.accessControlAllowOrigin] == nil)
                    expectSecurityHeaders(response)
                }
                // An actual request from an allowed origin is readable, even when it is an error.
                try await client.execute(uri: "/v1/customers", method: .get, headers: [.origin: "https://app.example.com"]) {
                    response in
                    #expect(response.status == .unauthorized)
                    #expect(response.headers[.accessControlAllowOrigin] == "https://app.example.com")
                }
            }
        }
    }

    @Test func bodyLimitContentTypeAndMalformedJSON() async throws {
        try await withHarness(configure: { $0.bodyLimit = 1024 }) { h in
            let auth = try await h.bearer()
            try await h.application().test(.router) { client in
                let big = #"{"key":""# + String(repeating: "x", count: 2000) + #""}"#
                try await client.execute(uri: "/v1/test/items", method: .post, headers: auth + jsonHeaders, body: jsonBody(big)) {
                    #expect($0.status == .contentTooLarge)
                    expectSecurityHeaders($0)
                }
                try await client.execute(
                    uri: "/v1/test/items", method: .post, headers: auth + [.contentType: "text/plain"], body: jsonBody("key=a")
                ) {
                    #expect($0.status == .unsupportedMediaType)
                    expectSecurityHeaders($0)
                }
                try await client.execute(
                    uri: "/v1/test/items", method: .post, headers: auth + jsonHeaders, body: jsonBody(#"{"key": "a",, }"#)
                ) { response in
                    #expect(response.status == .badRequest)
                    #expect(response.json["code"] as? String == "malformed_json")
                    let detail = response.json["detail"] as? String ?? ""
                    #expect(detail.contains("line 1, column 13"), "\(detail)")
                    expectSecurityHeaders(response)
                }
            }
            #expect(try await h.itemCount() == 0)
        }
    }

    @Test func bodiesAndQueriesAreValidatedAgainstTheOpenAPIDocument() async throws {
        try await withHarness { h in
            let auth = try await h.bearer()
            try await h.application().test(.router) { client in
                try await client.execute(
                    uri: "/v1/test/customers", method: .post, headers: auth + jsonHeaders,
                    body: jsonBody(#"{"name":"Ada","email":"not-an-email"}"#)
                ) { response in
                    #expect(response.status == .badRequest)
                    #expect(response.json["param"] as? String == "email")
                }
                try await client.execute(
                    uri: "/v1/test/customers", method: .post, headers: auth + jsonHeaders, body: jsonBody(#"{"email":"a@b.co"}"#)
                ) { response in
                    #expect(response.status == .badRequest)
                    #expect(response.json["param"] as? String == "name")
                }
                try await client.execute(
                    uri: "/v1/test/customers", method: .post, headers: auth + jsonHeaders,
                    body: jsonBody(#"{"name":"Ada","email":"ada@example.com","metadata":{"tier":"gold"}}"#)
                ) { response in
                    #expect(response.status == .ok)
                    let body = response.json["body"] as? [String: Any]
                    #expect(body?["name"] as? String == "Ada")
                }
                // DESIGN §5 route, no worker needed: the query is refused before anything is sent.
                try await client.execute(uri: "/v1/customers?limit=500", method: .get, headers: auth) { response in
                    #expect(response.status == .badRequest)
                    #expect(response.json["param"] as? String == "limit")
                }
                try await client.execute(uri: "/v1/customers?colour=red", method: .get, headers: auth) { response in
                    #expect(response.status == .badRequest)
                    #expect(response.json["param"] as? String == "colour")
                }
            }
            let length = try await h.redis.send(XLEN(h.names.commands("customer")))
            #expect(length == 0)
        }
    }
}

@Suite("Gateway: idempotency keys")
struct GatewayIdempotencyTests {
    static let key = GatewayHeaders.idempotencyKey

    @Test func sameKeyAndBodyReplaysOtherBodyIs422StillRunningIs409() async throws {
        try await withHarness { h in
            let auth = try await h.bearer()
            try await h.application().test(.router) { client in
                let headers = auth + jsonHeaders + [Self.key: "order-1"]
                let first = try await client.execute(
                    uri: "/v1/test/items", method: .post, headers: headers, body: jsonBody(#"{"key":"a"}"#)
                ) { response -> String in
                    #expect(response.status == .created)
                    #expect(response.headers[GatewayHeaders.idempotentReplayed] == nil)
                    return response.text
                }
                try await client.execute(uri: "/v1/test/items", method: .post, headers: headers, body: jsonBody(#"{"key":"a"}"#)) {
                    response in
                    #expect(response.status == .created)
                    #expect(response.headers[GatewayHeaders.idempotentReplayed] == "true")
                    #expect(response.text == first)
                }
                try await client.execute(uri: "/v1/test/items", method: .post, headers: headers, body: jsonBody(#"{"key":"b"}"#)) {
                    response in
                    #expect(response.status == .unprocessableContent)
                    #expect(response.json["code"] as? String == "idempotency_key_reused")
                }
                // Another principal may use the same key for its own request.
                let other = try await h.bearer(h.claims(subject: "usr_other"))
                try await client.execute(
                    uri: "/v1/test/items", method: .post, headers: other + jsonHeaders + [Self.key: "order-1"],
                    body: jsonBody(#"{"key":"b"}"#)
                ) { #expect($0.status == .created) }

                // Still running: the first request waits on a stream nobody reads.
                let slow = auth + [Self.key: "order-2", GatewayHeaders.prefer: "wait=1.5"]
                async let firstSlow = client.execute(uri: "/v1/test/void", method: .post, headers: slow) { $0.status }
                try await Task.sleep(for: .milliseconds(300))
                try await client.execute(uri: "/v1/test/void", method: .post, headers: slow) { response in
                    #expect(response.status == .conflict)
                    #expect(response.json["code"] as? String == "idempotency_key_in_use")
                }
                #expect(try await firstSlow == .accepted)
            }
            #expect(try await h.itemCount() == 2)
        }
    }

    @Test func theKeyAndTheRequestDetermineTheCommandID() {
        let principal = Principal(subject: "usr_1", role: .admin, tenant: "default")
        let request = IdempotencyStore.fingerprint(method: "POST", path: "/v1/customers", body: Array(#"{"name":"a"}"#.utf8))
        let a = IdempotencyStore.operationID(principal: principal, key: "k", fingerprint: request)
        #expect(a == IdempotencyStore.operationID(principal: principal, key: "k", fingerprint: request))
        #expect(a != IdempotencyStore.operationID(principal: principal, key: "k2", fingerprint: request))
        // The same key on another route, or with another body, is another command.
        let otherRoute = IdempotencyStore.fingerprint(method: "POST", path: "/v1/plans", body: Array(#"{"name":"a"}"#.utf8))
        let otherBody = IdempotencyStore.fingerprint(method: "POST", path: "/v1/customers", body: Array(#"{"name":"b"}"#.utf8))
        #expect(a != IdempotencyStore.operationID(principal: principal, key: "k", fingerprint: otherRoute))
        #expect(a != IdempotencyStore.operationID(principal: principal, key: "k", fingerprint: otherBody))
        #expect(a.count == 36 && Array(a)[14] == "8")
    }
}

@Suite("Gateway: health, metrics, OpenAPI")
struct GatewayHealthTests {
    @Test func healthReadinessMetricsAndOpenAPI() async throws {
        try await withHarness { h in
            try await h.application().test(.router) { client in
                try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
                var ready = false
                for _ in 0..<60 where !ready {
                    ready = try await client.execute(uri: "/readyz", method: .get) { $0.status == .ok }
                    if !ready { try await Task.sleep(for: .milliseconds(100)) }
                }
                #expect(ready)
                try await client.execute(uri: "/openapi.json", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.json["openapi"] as? String == "3.1.0")
                }
                try await client.execute(uri: "/.well-known/jwks.json", method: .get) { response in
                    let keys = response.json["keys"] as? [[String: Any]]
                    #expect(keys?.first?["kid"] as? String == h.kid)
                }
                try await client.execute(uri: "/nowhere", method: .get) { response in
                    #expect(response.status == .notFound)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    expectSecurityHeaders(response)
                }
                try await client.execute(uri: "/metrics", method: .get) { response in
                    #expect(response.text.contains("billing_gateway_request_duration_seconds"))
                    #expect(response.text.contains("billing_gateway_requests_in_flight"))
                }
            }
        }
        try await withHarness(startWorker: false) { h in
            try await h.application().test(.router) { client in
                try await client.execute(uri: "/readyz", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                }
            }
        }
        // A gateway whose reply loop is not running is not ready either, even with live consumers.
        try await withHarness { h in
            var logger = Logger(label: "test.gateway")
            logger.logLevel = .warning
            let idle = ReplyRouter(redis: h.redis, names: h.names, logger: logger)  // never run
            let gateway = Gateway(
                redis: h.redis, replies: idle, configuration: h.configuration, routes: GatewayHarness.testRoutes,
                openAPI: GatewayHarness.openAPI, logger: logger)
            try await gateway.buildApplication().test(.router) { client in
                var checks: [String: Any] = [:]
                for _ in 0..<60 {
                    let (status, body) = try await client.execute(uri: "/readyz", method: .get) { ($0.status, $0.json) }
                    #expect(status == .serviceUnavailable)
                    checks = body["checks"] as? [String: Any] ?? [:]
                    if checks["consumers:\(GatewayHarness.testService)"] as? String == "ok" { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(checks["consumers:\(GatewayHarness.testService)"] as? String == "ok")
                #expect(checks["replies"] as? String == "reply loop not reading")
            }
        }
    }

    /// Readiness comes from the workers' heartbeats, not from when a consumer last read: a consumer
    /// busy with a batch far longer than the liveness window (as under load) keeps its group ready,
    /// and a killed worker process makes it not ready once its beats age out.
    @Test func readinessFollowsHeartbeatsNotReads() async throws {
        try await withHarness(startWorker: false, configure: { $0.consumerLiveness = .seconds(2) }) { h in
            try await h.startWorker(environment: ["BILLING_HEARTBEAT_INTERVAL_MS": "200"])
            try await h.application().test(.router) { client in
                func check() async throws -> String? {
                    try await client.execute(uri: "/readyz", method: .get) {
                        ($0.json["checks"] as? [String: Any])?["consumers:\(GatewayHarness.testService)"] as? String
                    }
                }
                #expect(try await TestServers.eventually(timeout: .seconds(20)) { try await check() == "ok" })
                // One batch that keeps the only consumer away from its stream for 5 s (> 2 s).
                let slow = Envelope(
                    type: "test.slow", replyTo: "", principal: Principal(subject: "test", role: .admin, tenant: "default"),
                    payload: .object(["ms": .number("5000"), "key": .string("slow")]), createdAt: Date())
                try await CommandBus(redis: h.redis, names: h.names).send(slow, to: GatewayHarness.testService)
                let stream = h.names.commands(GatewayHarness.testService)
                var busiest = 0
                let until = ContinuousClock.now + .milliseconds(4500)
                while ContinuousClock.now < until {
                    #expect(try await check() == "ok")
                    let consumers = try await h.redis.send(XINFO_CONSUMERS(stream, group: GatewayHarness.testService))
                    busiest = max(busiest, consumers.map(\.idleMilliseconds).min() ?? 0)
                    try await Task.sleep(for: .milliseconds(250))
                }
                // Judged by reads, the group would have looked dead: no consumer read for over 2 s.
                #expect(busiest > 2000, "the consumer stayed away from its stream \(busiest) ms")
                // A killed process stops beating: not ready once its last beat is older than 2 s.
                let process = try #require(h.workerProcess)
                kill(process.processIdentifier, SIGKILL)
                #expect(try await TestServers.eventually(timeout: .seconds(10)) { try await check() == "no live consumer" })
            }
        }
    }

    /// An API key's record is read once a minute per gateway, not once per request (issue 24), yet
    /// a revoked key is refused at once by every gateway, on every admission path: the admission
    /// script checks the record still exists in the same round trip.
    @Test func apiKeysAreRememberedButARevokedKeyIsRefusedAtOnceByEveryGateway() async throws {
        try await withHarness { h in
            let apiKey = "sk_test_\(UUID().uuidString.lowercased())"
            let recordKey = h.gateway().authenticator.apiKeyKey(apiKey)
            _ = try await h.redis.send(
                SET(
                    recordKey,
                    value: RedisArgument(#"{"id":"key_1","subject":"key_1","role":"service","scopes":["test:use"],"tenant":"default"}"#)))
            let first = h.gateway()
            let second = h.gateway()
            let key: HTTPFields = [GatewayHeaders.apiKey: apiKey]
            let async = key + jsonHeaders + [GatewayHeaders.prefer: "respond-async"]
            try await first.buildApplication().test(.router) { one in
                try await second.buildApplication().test(.router) { two in
                    for client in [one, two] {
                        for _ in 0..<5 {
                            try await client.execute(uri: "/v1/test/echo", method: .get, headers: key) { #expect($0.status == .ok) }
                            try await client.execute(uri: "/v1/test/items", method: .post, headers: async, body: jsonBody(#"{"key":"a"}"#)) {
                                #expect($0.status == .accepted)
                            }
                        }
                    }
                    #expect(first.authenticator.apiKeyReads == 1)
                    #expect(second.authenticator.apiKeyReads == 1)
                    // Revoked (the auth service deletes the record): refused at once by both, on the
                    // counted-at-send path, the Idempotency-Key path (counted first) and a sync read.
                    _ = try await h.redis.send(DEL(keys: [recordKey]))
                    for client in [one, two] {
                        try await client.execute(uri: "/v1/test/echo", method: .get, headers: key) {
                            #expect($0.status == .unauthorized)
                            #expect(String(buffer: $0.body).contains("unknown or revoked API key"))
                        }
                        try await client.execute(uri: "/v1/test/items", method: .post, headers: async, body: jsonBody(#"{"key":"b"}"#)) {
                            #expect($0.status == .unauthorized)
                        }
                        var idempotent = async
                        idempotent[GatewayHeaders.idempotencyKey] = UUID().uuidString
                        try await client.execute(uri: "/v1/test/items", method: .post, headers: idempotent, body: jsonBody(#"{"key":"c"}"#)) {
                            #expect($0.status == .unauthorized)
                        }
                    }
                }
            }
            // Nothing of the refused requests was sent: 10 reads answered and deleted, 10 inserts queued.
            let info = try await h.redis.execute(["XINFO", "STREAM", RedisArgument(h.names.commands(GatewayHarness.testService))])
            let fields = info.array ?? []
            let added = zip(fields, fields.dropFirst()).first { $0.0.string == "entries-added" }?.1.int
            #expect(added == 20)
        }
    }

    /// A flood of made-up tokens (issue 17, item 12) meets the per-IP limit before each costs a
    /// signature verification: once the client's IP is over its limit, tokens are not verified.
    @Test func madeUpTokensAreCountedBeforeTheirSignatureIsVerified() async throws {
        try await withHarness(configure: { $0.ipLimit = RateLimitTier(rate: 0.01, burst: 6) }) { h in
            let forger = ES256PrivateKey()
            let gateway = h.gateway()
            try await gateway.buildApplication().test(.router) { client in
                var statuses: [HTTPResponse.Status] = []
                for _ in 0..<20 {
                    let token = try await JWTKeyCollection().add(ecdsa: forger, kid: JWKIdentifier(string: h.kid))
                        .sign(h.claims(jti: UUID().uuidString), kid: JWKIdentifier(string: h.kid))
                    statuses.append(
                        try await client.execute(
                            uri: "/v1/test/echo", method: .get, headers: [.authorization: "Bearer \(token)"]
                        ) { $0.status })
                }
                #expect(statuses.prefix(5).allSatisfy { $0 == .unauthorized }, "\(statuses)")
                #expect(statuses.suffix(10).allSatisfy { $0 == .tooManyRequests }, "\(statuses)")
                // A burst of 6: at most 6 verified, where every one of the 20 was before.
                #expect(gateway.authenticator.signatureVerifications <= 6, "\(gateway.authenticator.signatureVerifications) verified")
            }
        }
    }

    @Test func everyTableRouteIsInTheOpenAPIDocument() throws {
        let document = try #require(GatewayHarness.openAPI)
        for route in RouteTable.standard.routes {
            #expect(document.operation(method: route.method.rawValue, path: route.path) != nil, "\(route.label)")
            if let schema = route.requestSchema { #expect(document.schema(named: schema) != nil, "\(schema)") }
        }
        for path in ["/v1/operations/{id}", "/.well-known/jwks.json", "/healthz", "/readyz", "/metrics"] {
            #expect(document.operation(method: "GET", path: path) != nil, "\(path)")
        }
    }
}

extension Data {
    var base64URLEncoded: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
