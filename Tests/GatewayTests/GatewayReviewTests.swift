import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import Logging
import MessageBus
import NIOCore
import NIOPosix
import Redis
import TestSupport
import Testing

@testable import Gateway

/// The principal `GatewayHarness.claims()` signs by default.
let harnessAdmin = Principal(subject: "usr_admin", role: .admin, tenant: "default")

@Suite("Gateway: Prefer header")
struct GatewayPreferTests {
    @Test(arguments: ["wait=inf", "wait=-inf", "wait=nan", "wait=-1", "wait=abc", "wait="])
    func aWaitThatIsNotAFiniteNonNegativeNumberIsIgnored(header: String) {
        let preference = Preference(header, maxWait: .seconds(30))
        #expect(preference.wait == nil)
        #expect(!preference.respondAsync)
    }

    @Test(arguments: [
        ("wait=1e300", Duration.seconds(30)), ("wait=31", .seconds(30)), ("wait=2.5", .milliseconds(2500)),
        ("wait=0", .zero), ("respond-async, wait=1", .seconds(1)),
    ])
    func aWaitIsCappedAtTheMaximum(header: String, expected: Duration) {
        #expect(Preference(header, maxWait: .seconds(30)).wait == expected)
    }

    @Test func anUnusableWaitFallsBackToTheDefaultInsteadOfCrashing() async throws {
        try await withHarness { h in
            let auth = try await h.bearer()
            try await h.application().test(.router) { client in
                for wait in ["wait=inf", "wait=1e300", "wait=-1", "wait=abc"] {
                    try await client.execute(uri: "/v1/test/echo", method: .get, headers: auth + [GatewayHeaders.prefer: wait]) {
                        #expect($0.status == .ok, "\(wait)")
                    }
                }
            }
        }
    }
}

@Suite("Gateway: review fixes at the edge")
struct GatewayEdgeReviewTests {
    /// Issue 17, item 5: a command stream at its capacity refuses the request (503, Retry-After),
    /// counts nothing and adds nothing; accepted work is never trimmed to make room.
    @Test func aCommandStreamAtItsCapacityRefusesTheRequestAndAddsNothing() async throws {
        try await withHarness(startWorker: false, configure: { $0.streams = StreamRetention(retainedEntries: 0, maxEntries: 2) }) { h in
            let stream = h.names.commands(GatewayHarness.testService)
            let auth = try await h.bearer()
            try await h.application().test(.router) { client in
                for _ in 0..<2 {
                    try await client.execute(
                        uri: "/v1/test/items", method: .post, headers: auth + jsonHeaders + [GatewayHeaders.prefer: "respond-async"],
                        body: jsonBody(#"{"key":"a"}"#)
                    ) { #expect($0.status == .accepted) }
                }
                try await client.execute(
                    uri: "/v1/test/items", method: .post, headers: auth + jsonHeaders + [GatewayHeaders.prefer: "respond-async"],
                    body: jsonBody(#"{"key":"a"}"#)
                ) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.json["code"] as? String == "backlog_full")
                    #expect(response.headers[.retryAfter] == "5")
                }
            }
            #expect(try await h.redis.send(XLEN(stream)) == 2)
        }
    }

    @Test func refusedCredentialsAreRateLimitedPerIP() async throws {
        try await withHarness(configure: { $0.ipLimit = RateLimitTier(rate: 0.01, burst: 4) }) { h in
            let valid = try await h.bearer()
            try await h.application().test(.router) { client in
                // Verified once while the IP has room: later it is a known token with a tier of its own.
                try await client.execute(uri: "/v1/test/echo", method: .get, headers: valid) { #expect($0.status == .ok) }
                for attempt in 0..<3 {
                    let headers: HTTPFields =
                        attempt == 2 ? [:] : [.authorization: "Bearer not.a.jwt"]  // a missing credential counts too
                    try await client.execute(uri: "/v1/test/echo", method: .get, headers: headers) { response in
                        #expect(response.status == .unauthorized)
                        #expect(response.headers[GatewayHeaders.rateLimitRemaining] == String(2 - attempt))
                    }
                }
                try await client.execute(uri: "/v1/test/echo", method: .get, headers: [GatewayHeaders.apiKey: "sk_test_guess"]) {
                    response in
                    #expect(response.status == .tooManyRequests)
                    #expect(Int(response.headers[.retryAfter] ?? "") ?? 0 >= 1)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    expectSecurityHeaders(response)
                }
                // A valid principal has its own tier.
                try await client.execute(uri: "/v1/test/echo", method: .get, headers: valid) { #expect($0.status == .ok) }
            }
        }
    }

    @Test func behindATrustedProxyTheClientIsTheRightmostForwardedAddressNotAProxy() async throws {
        // Over real sockets from 127.0.0.1: the load balancer here, and 10.0.0.0/8 an inner proxy tier.
        try await withHarness(configure: {
            $0.trustedProxies = (try? TrustedProxies("127.0.0.1/32, 10.0.0.0/8")) ?? .none
            $0.ipLimit = RateLimitTier(rate: 0.01, burst: 1)
        }) { h in
            try await h.application().test(.live) { client in
                func get(_ forwardedFor: String) async throws -> HTTPResponse.Status {
                    try await client.execute(
                        uri: "/v1/test/public-echo", method: .get, headers: [GatewayHeaders.forwardedFor: forwardedFor]
                    ) { $0.status }
                }
                let first = try await get("1.1.1.1, 10.0.0.1")
                // The client prepended a fake address; the proxies still saw 1.1.1.1.
                let spoofed = try await get("2.2.2.2, 1.1.1.1, 10.0.0.7")
                let otherClient = try await get("3.3.3.3, 10.0.0.1")
                #expect([first, spoofed, otherClient] == [.ok, .tooManyRequests, .ok])
            }
        }
        // A peer that is not a trusted proxy cannot choose its address: the header is ignored.
        try await withHarness(configure: { $0.ipLimit = RateLimitTier(rate: 0.01, burst: 1) }) { h in
            try await h.application().test(.live) { client in
                let statuses = try await [("4.4.4.4"), ("5.5.5.5")].asyncMap { forwarded in
                    try await client.execute(
                        uri: "/v1/test/public-echo", method: .get, headers: [GatewayHeaders.forwardedFor: forwarded]
                    ) { $0.status }
                }
                #expect(statuses == [.ok, .tooManyRequests])
            }
        }
    }

    @Test func trustedProxiesParseCIDRBlocksAndRefuseGarbage() throws {
        let proxies = try TrustedProxies("10.0.0.0/8,192.168.1.7, fd00::/8")
        #expect(proxies.contains("10.200.3.4") && proxies.contains("192.168.1.7") && proxies.contains("fd12::1"))
        #expect(!proxies.contains("11.0.0.1") && !proxies.contains("192.168.1.8") && !proxies.contains("fe80::1"))
        #expect(proxies.client(peer: "10.0.0.2", forwardedFor: "203.0.113.9, 10.1.1.1") == "203.0.113.9")
        #expect(proxies.client(peer: "198.51.100.1", forwardedFor: "203.0.113.9") == "198.51.100.1")
        #expect(throws: TrustedProxies.Invalid.self) { try TrustedProxies("10.0.0.0/33") }
        #expect(throws: TrustedProxies.Invalid.self) { try TrustedProxies("proxy.internal") }
    }

    @Test func everyResponseIsNoStoreUnlessTheRouteSaysOtherwise() async throws {
        try await withHarness { h in
            try await h.application().test(.router) { client in
                try await client.execute(uri: "/v1/test/login", method: .post) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.cacheControl] == "no-store")
                }
                try await client.execute(uri: "/nowhere", method: .get) { #expect($0.headers[.cacheControl] == "no-store") }
                try await client.execute(uri: "/.well-known/jwks.json", method: .get) {
                    #expect($0.headers[.cacheControl] == "public, max-age=300")
                }
            }
        }
    }

    @Test func anEmptyBodyIsValidatedAgainstTheRequestSchema() async throws {
        try await withHarness { h in
            let auth = try await h.bearer()
            try await h.application().test(.router) { client in
                try await client.execute(uri: "/v1/test/customers", method: .post, headers: auth) { response in
                    #expect(response.status == .badRequest)
                    #expect(response.json["param"] as? String == "name")
                    #expect((response.json["detail"] as? String)?.contains("required") == true)
                }
                // A route whose schema takes no fields still accepts no body.
                try await client.execute(
                    uri: "/v1/plans/plan_1/archive", method: .post, headers: auth + [GatewayHeaders.prefer: "respond-async"]
                ) { #expect($0.status == .accepted) }
            }
            #expect(await h.nothingEverSent(to: h.names.commands(GatewayHarness.testService)))
        }
    }

    @Test(arguments: [-1, 0, 99, 100, 199, 600, 1000, Int.max])
    func aWorkerStatusThatIsNoHTTPStatusBecomes502(status: Int) throws {
        let succeeded = Reply(
            id: "op_1", correlationID: "req_1", status: .succeeded, httpStatus: status, result: .object([:]), completedAt: Date())
        let failed = Reply(
            id: "op_1", correlationID: "req_1", status: .failed, httpStatus: status,
            error: Problem(status: status, code: "odd", title: "Odd", detail: "odd"), completedAt: Date())
        for reply in [succeeded, failed] {
            let answer = CommandEndpoint.answer(for: reply, requestID: "req_1", headers: [:])
            #expect(answer.status == 502)
            #expect(answer.response.status.code == 502)
            #expect(answer.headers[.contentType] == "application/problem+json")
            let body = try #require(answer.body.flatMap { try? JSONSerialization.jsonObject(with: Data(buffer: $0)) as? [String: Any] })
            #expect(body["code"] as? String == "bad_worker_reply")
            #expect(body["request_id"] as? String == "req_1")
        }
        let stored = IdempotencyStore.IdempotencyRecord(fingerprint: "f", operationID: "op_1", done: true, status: status, body: "{}")
        #expect(CommandEndpoint.replay(stored, requestID: "req_1", headers: [:]).status.code == 502)
    }

    @Test func validWorkerStatusesPassThrough() {
        let created = Reply(id: "op", correlationID: "r", status: .succeeded, httpStatus: 201, result: .object([:]), completedAt: Date())
        #expect(CommandEndpoint.answer(for: created, requestID: "r", headers: [:]).response.status.code == 201)
        let gone = Reply(
            id: "op", correlationID: "r", status: .failed, httpStatus: 404, error: .notFound("customer cus_1"), completedAt: Date())
        #expect(CommandEndpoint.answer(for: gone, requestID: "r", headers: [:]).response.status.code == 404)
    }
}

@Suite("Gateway: review fixes to idempotency and operations")
struct GatewayIdempotencyReviewTests {
    @Test func anInFlightClaimExpiresSoonAndTheStoredResponseIsKeptADay() async throws {
        try await withHarness { h in
            let auth = try await h.bearer()
            let store = IdempotencyStore(
                redis: h.redis, prefix: h.names.prefix, ttl: h.configuration.idempotencyTTL,
                claimTTL: h.configuration.idempotencyClaimTTL)
            let recordKey = store.key(harnessAdmin, "slow-1")
            let claimMS = IdempotencyStore.milliseconds(h.configuration.idempotencyClaimTTL)
            #expect(claimMS <= 40_000)
            try await h.application().test(.router) { client in
                let headers = auth + [GatewayIdempotencyTests.key: "slow-1", GatewayHeaders.prefer: "wait=1"]
                async let first = client.execute(uri: "/v1/test/void", method: .post, headers: headers) { $0.status }
                var inFlight = -2
                for _ in 0..<50 where inFlight < 0 {
                    try await Task.sleep(for: .milliseconds(20))
                    inFlight = try await h.redis.send(PTTL(recordKey))
                }
                #expect(inFlight > 0 && inFlight <= claimMS, "claim PTTL \(inFlight) ms")
                #expect(try await first == .accepted)
            }
            let stored = try await h.redis.send(PTTL(recordKey))
            #expect(stored > 86_400_000 - 60_000, "stored PTTL \(stored) ms")
        }
    }

    @Test func anIdempotencyKeyIsTheCommandIDOnTheStreamAndTheWorkerDedupesARetry() async throws {
        try await withHarness { h in
            let auth = try await h.bearer()
            let key = "order-e2e"
            let expectedID = IdempotencyStore.operationID(
                principal: harnessAdmin, key: key,
                fingerprint: IdempotencyStore.fingerprint(method: "POST", path: "/v1/test/items", body: Array(#"{"key":"e"}"#.utf8)))
            let headers = auth + jsonHeaders + [GatewayIdempotencyTests.key: key]
            try await h.application().test(.router) { client in
                let first = try await client.execute(
                    uri: "/v1/test/items", method: .post, headers: headers, body: jsonBody(#"{"key":"e"}"#)
                ) { response -> String in
                    #expect(response.status == .created)
                    return response.text
                }
                // The gateway loses its record (expired, flushed): the retry is the same command again…
                let store = IdempotencyStore(redis: h.redis, prefix: h.names.prefix, ttl: .seconds(1), claimTTL: .seconds(1))
                _ = try await h.redis.send(DEL(store.key(harnessAdmin, key)))
                try await client.execute(uri: "/v1/test/items", method: .post, headers: headers, body: jsonBody(#"{"key":"e"}"#)) {
                    response in
                    #expect(response.status == .created)
                    #expect(response.headers[GatewayHeaders.idempotentReplayed] == nil)
                    #expect(response.text == first)
                }
            }
            let entries = try await h.redis.send(XRANGE(h.names.commands(GatewayHarness.testService)))
            #expect(entries.count == 2)
            for entry in entries {
                let envelope = try MessageCoding.decode(Envelope.self, from: entry.fields[CommandBus.envelopeField] ?? "")
                #expect(envelope.id == expectedID)
                #expect(envelope.idempotencyKey == key)
            }
            // …which the worker's ledger recognises: one effect, carrying that ID.
            #expect(try await h.items() == [expectedID])
            // The same key reused, its record gone, on another request (another body here; another
            // route likewise) is a new command: it runs, and is not answered with the old reply.
            let store = IdempotencyStore(redis: h.redis, prefix: h.names.prefix, ttl: .seconds(1), claimTTL: .seconds(1))
            _ = try await h.redis.send(DEL(store.key(harnessAdmin, key)))
            try await h.application().test(.router) { client in
                try await client.execute(uri: "/v1/test/items", method: .post, headers: headers, body: jsonBody(#"{"key":"f"}"#)) {
                    #expect($0.status == .created && $0.headers[GatewayHeaders.idempotentReplayed] == nil, "\($0.text)")
                }
            }
            let effects = try await h.items()
            #expect(effects.count == 2 && effects.contains(expectedID), "\(effects)")
        }
    }

    @Test func anOperationCreatedWithAnIdempotencyKeyHasItsCreationTime() async throws {
        try await withHarness { h in
            let auth = try await h.bearer()
            let before = Date().addingTimeInterval(-1)
            let id = IdempotencyStore.operationID(
                principal: harnessAdmin, key: "created-1",
                fingerprint: IdempotencyStore.fingerprint(method: "POST", path: "/v1/test/items", body: Array(#"{"key":"c"}"#.utf8)))
            try await h.application().test(.router) { client in
                try await client.execute(
                    uri: "/v1/test/items", method: .post, headers: auth + jsonHeaders + [GatewayIdempotencyTests.key: "created-1"],
                    body: jsonBody(#"{"key":"c"}"#)
                ) { #expect($0.status == .created) }
                try await client.execute(uri: "/v1/operations/\(id)", method: .get, headers: auth) { response in
                    #expect(response.status == .ok)
                    #expect(response.json["status"] as? String == "succeeded")
                    let createdAt = (response.json["created_at"] as? String).flatMap(MessageCoding.parseTimestamp)
                    #expect(createdAt.map { $0 >= before && $0 <= Date() } == true, "\(response.text)")
                }
            }
        }
    }
}

@Suite("Gateway: tokens")
struct GatewayTokenReviewTests {
    @Test func aTokenNotYetValidOrFromAnotherIssuerIsRefused() async throws {
        try await withHarness { h in
            var early = h.claims()
            early.nbf = NotBeforeClaim(value: Date().addingTimeInterval(600))
            let notYet = try await h.token(early)
            let otherIssuer = try await h.token(h.claims(issuer: "someone-else"))
            try await h.application().test(.router) { client in
                for (name, token) in [("nbf", notYet), ("iss", otherIssuer)] {
                    try await client.execute(uri: "/v1/test/echo", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                        response in
                        #expect(response.status == .unauthorized, "\(name)")
                        #expect(response.headers[.contentType] == "application/problem+json", "\(name)")
                    }
                }
            }
            #expect(await h.nothingEverSent(to: h.names.commands(GatewayHarness.testService)))
        }
    }
}

@Suite("Gateway: Redis down")
struct GatewayRedisDownTests {
    /// A port nothing listens on: bound, then closed.
    static func closedPort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 1
        try await channel.close()
        return port
    }

    @Test func everyCommandRouteAnswers503WithAProblemAndTheEdgeHeaders() async throws {
        // Keys and tokens from a working harness; the gateway under test reaches Redis at a closed port.
        try await withHarness(startWorker: false) { h in
            let token = try await h.bearer()
            var logger = Logger(label: "test.gateway.down")
            logger.logLevel = .critical
            let down = RedisClient(
                configuration: RedisConfiguration(port: try await Self.closedPort(), connectTimeout: .seconds(1)), logger: logger)
            let gateway = Gateway(
                redis: down, replies: ReplyRouter(redis: down, names: h.names, logger: logger), configuration: h.configuration,
                routes: GatewayHarness.testRoutes, openAPI: GatewayHarness.openAPI, logger: logger)
            try await gateway.buildApplication().test(.router) { client in
                let requests: [(String, HTTPRequest.Method, HTTPFields)] = [
                    ("/v1/test/login", .post, [:]),  // auth class: the limiter fails closed
                    ("/v1/test/echo", .get, token),  // standard, authenticated: the token cannot be checked
                    ("/v1/test/public-echo", .get, [:]),  // standard, public: the limiter fails open, nothing can be sent
                    ("/.well-known/jwks.json", .get, [:]),
                    ("/v1/operations/op_1", .get, token),
                ]
                for (uri, method, headers) in requests {
                    try await client.execute(uri: uri, method: method, headers: headers) { response in
                        #expect(response.status == .serviceUnavailable, "\(uri)")
                        #expect(response.headers[.contentType] == "application/problem+json", "\(uri)")
                        #expect(response.json["code"] as? String == "unavailable", "\(uri)")
                        #expect(response.json["request_id"] as? String == response.headers[requestIDName], "\(uri)")
                        #expect(response.headers[.retryAfter] == "1", "\(uri)")
                        #expect(response.headers[.cacheControl] == "no-store", "\(uri)")
                        expectSecurityHeaders(response)
                    }
                }
                try await client.execute(uri: "/v1/test/echo", method: .get) { #expect($0.status == .unauthorized) }
                try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
                try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .serviceUnavailable) }
            }
            await down.shutdown()
        }
    }
}

extension Array where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
