import Foundation
import MessageBus
import Testing

@testable import Gateway

/// The OpenAPI document the gateway validates against: what it refuses to load, and its agreement
/// with the route table.
@Suite struct OpenAPIDocumentTests {
    static func document(requestSchema: String) -> String {
        """
        openapi: 3.1.0
        info: {title: t, version: '1'}
        paths:
          /v1/things:
            post:
              requestBody:
                content:
                  application/json:
                    schema: {$ref: '#/components/schemas/ThingCreate'}
              responses:
                '200':
                  description: ok
                  content:
                    application/json:
                      schema: {oneOf: [{type: string}, {type: integer}]}
        components:
          schemas:
            ThingCreate:
        \(requestSchema)
        """
    }

    @Test(arguments: [
        ("oneOf", "      oneOf: [{type: string}, {type: integer}]"),
        ("anyOf", "      type: object\n      properties:\n        tag: {anyOf: [{type: string}, {type: 'null'}]}"),
        ("not", "      type: object\n      properties:\n        tag: {not: {type: string}}"),
        ("uniqueItems", "      type: object\n      properties:\n        tags: {type: array, uniqueItems: true, items: {type: string}}"),
    ])
    func aRequestSchemaUsingAKeywordTheValidatorLacksIsRefusedAtLoad(keyword: String, schema: String) {
        #expect {
            _ = try OpenAPIDocument(yaml: Self.document(requestSchema: schema))
        } throws: { error in
            "\(error)".contains("'\(keyword)'") && "\(error)".contains("ThingCreate")
        }
    }

    @Test func responseSchemasMayUseAnyKeywordAndPatternsAreCompiledOnce() throws {
        let document = try OpenAPIDocument(
            yaml: Self.document(
                requestSchema: "      type: object\n      properties:\n        code: {type: string, pattern: '^[a-z]+$'}"))
        #expect(document.patterns.keys.sorted() == ["^[a-z]+$"])
        #expect(throws: Never.self) { try document.validate(.object(["code": .string("abc")]), schemaNamed: "ThingCreate") }
        #expect(throws: GatewayError.self) { try document.validate(.object(["code": .string("ABC")]), schemaNamed: "ThingCreate") }
        #expect(throws: (any Error).self) {
            try OpenAPIDocument(yaml: Self.document(requestSchema: "      type: string\n      pattern: '[unclosed'"))
        }
    }

    @Test func everyRouteBodySchemaIsTheOneItsPathDocuments() throws {
        let document = try #require(GatewayHarness.openAPI, "schemas/openapi.yaml loads")
        for route in RouteTable.standard.routes {
            let operation = try #require(
                document.operation(method: route.method.rawValue, path: route.path), "\(route.label) is in the document")
            let documented = operation["requestBody"]?["content"]?["application/json"]?["schema"]?["$ref"]?.stringValue
            #expect(documented == route.requestSchema.map { "#/components/schemas/\($0)" }, "\(route.label)")
        }
    }

    /// What the gateway itself may answer on a route, whatever the worker does, is documented for it:
    /// 202 (no reply in time), 400, 401 (a refused or revoked credential, on public routes too), 429,
    /// 503; 403 where a login is needed; 413 and 415 where a body is read; 409 (an Idempotency-Key in
    /// use) on POSTs and 422 (a reused key, a card number) except on the token endpoint, whose 4xx are
    /// RFC 6749 errors. scripts/lib/api-contract.sh checks the rest against the running system.
    @Test func everyRouteDocumentsTheStatusesTheGatewayAnswers() throws {
        let document = try #require(GatewayHarness.openAPI, "schemas/openapi.yaml loads")
        for route in RouteTable.standard.routes {
            let operation = try #require(document.operation(method: route.method.rawValue, path: route.path))
            guard case .object(let responses)? = operation["responses"] else {
                Issue.record("\(route.label) documents no responses")
                continue
            }
            var expected: Set<String> = ["202", "400", "401", "429", "503"]
            if route.access != .public { expected.insert("403") }
            if route.requestSchema != nil { expected.formUnion(["413", "415"]) }
            if !route.oauthTokenEndpoint {
                expected.insert("422")
                if route.method == .post { expected.insert("409") }
            }
            if route.path.contains("{id}") { expected.insert("404") }
            let missing = expected.subtracting(responses.keys)
            #expect(missing.isEmpty, "\(route.label) does not document \(missing.sorted())")
        }
    }
}

/// A worker's 429 (a sign-in lockout) reaches the client with `Retry-After`.
@Suite struct WorkerRetryAfterTests {
    @Test func aProblemsRetryAfterTravelsInTheReplyAndBecomesTheHeader() throws {
        let envelope = Envelope(type: "auth.login", principal: Principal(subject: "anonymous", role: .customer, tenant: "default"), payload: .null, createdAt: Date())
        let problem = Problem(status: 429, code: "too_many_attempts", title: "Too many failed sign-ins", detail: "retry in 37 s", retryAfter: 37)
        let reply = Reply.failure(to: envelope, problem, at: Date())
        // Through the wire form the worker writes and the gateway reads.
        let read = try MessageCoding.decode(Reply.self, from: try MessageCoding.encode(reply))
        #expect(read.error?.retryAfter == 37)
        let answer = CommandEndpoint.answer(for: read, requestID: "req_1", headers: [:])
        #expect(answer.status == 429 && answer.headers[.retryAfter] == "37")
        // A problem without one adds no header.
        let plain = CommandEndpoint.answer(for: Reply.failure(to: envelope, .notFound("x"), at: Date()), requestID: "req_2", headers: [:])
        #expect(plain.headers[.retryAfter] == nil)
    }
}
