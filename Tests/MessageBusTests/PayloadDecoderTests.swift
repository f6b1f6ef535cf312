import BillingDomain
import Contracts
import FieldNames
import Foundation
import MessageBus
import Testing

/// Typed payloads: every refusal is one 422 whose `param` is the field's path as the client wrote it.
@Suite struct PayloadDecoderTests {
    static func json(_ text: String) throws -> JSONValue {
        try #require(JSONReader.value(Array(text.utf8)), "valid JSON: \(text)")
    }

    static func refusal<T: Decodable>(_ type: T.Type, _ text: String) throws -> Problem? {
        let value = try json(text)
        do throws(Problem) {
            _ = try PayloadDecoder.decode(T.self, from: value)
            return nil
        } catch {
            return error
        }
    }

    static let draft = #""name":"Pro","price":"19.99","currency":"USD","interval":"month""#

    @Test func aValidPlanDraftDecodesWithSnakeCaseFields() throws {
        let payload = try PayloadDecoder.decode(
            Commands.PlanCreate.Payload.self,
            from: try Self.json(
                #"{"body":{\#(Self.draft),"interval_count":3,"trial_days":null,"features":["a","b"],"metadata":{"crm_id":"42"}}}"#))
        #expect(payload.body.name.value == "Pro")
        #expect(payload.body.price.text == "19.99")
        #expect(payload.body.currency.currency == Currency(code: "USD"))
        #expect(payload.body.interval == .month)
        #expect(payload.body.intervalCount?.value == 3)
        #expect(payload.body.trialDays == nil, "null reads as absent")
        #expect(payload.body.features?.values.map(\.value) == ["a", "b"])
        #expect(payload.body.metadata?.values == ["crm_id": "42"])
    }

    @Test(arguments: [
        (#"{"body":{"price":"1","currency":"USD","interval":"month"}}"#, "name", "name is required"),
        (#"{"body":{\#(draft),"colour":"red"}}"#, "colour", "colour is not a known field"),
        (#"{"body":{\#(draft),"interval_count":"3"}}"#, "interval_count", "interval_count must be an integer"),
        (#"{"body":{\#(draft),"interval_count":0}}"#, "interval_count", "interval_count must be between 1 and 365"),
        (#"{"body":{\#(draft),"interval_count":1.5}}"#, "interval_count", "interval_count must be an integer"),
        (#"{"body":{"name":"","price":"1","currency":"USD","interval":"month"}}"#, "name", "name must not be empty"),
        (#"{"body":{"name":"a\u0007","price":"1","currency":"USD","interval":"month"}}"#, "name",
            "name must not contain control characters"),
        (#"{"body":{"name":"Pro","price":19.99,"currency":"USD","interval":"month"}}"#, "price",
            #"price must be a decimal string such as "19.99""#),
        (#"{"body":{"name":"Pro","price":"1","currency":"usd","interval":"month"}}"#, "currency",
            "currency must be an ISO 4217 code in capitals, such as USD, EUR or JPY"),
        (#"{"body":{"name":"Pro","price":"1","currency":"USD","interval":"fortnight"}}"#, "interval",
            "interval must be one of day, week, month, year"),
        (#"{"body":{\#(draft),"features":["ok",7]}}"#, "features[1]", "features[1] must be a string"),
        (#"{"body":{\#(draft),"metadata":{"crm":"\#(String(repeating: "x", count: 501))"}}}"#, "metadata.crm",
            "metadata.crm must be at most 500 characters"),
        (#"{"body":{\#(draft),"metadata":{"a.b":"x"}}}"#, "metadata",
            "metadata keys must be 1 to 40 characters, not start with $ and not contain a dot"),
        (#"{"body":[]}"#, "body", "body must be an object"),
        (#"{"body":{\#(draft)},"query":{"x":"1"}}"#, "x", "x is not a known field"),
    ])
    func everyRefusalNamesItsField(_ payload: String, _ param: String, _ detail: String) throws {
        let problem = try #require(try Self.refusal(Commands.PlanCreate.Payload.self, payload))
        #expect(problem.status == 422)
        #expect(problem.param == param)
        #expect(problem.detail == detail)
    }

    @Test func aListQueryTakesPageAndFiltersAsURLText() throws {
        let payload = try PayloadDecoder.decode(
            Commands.PlanList.Payload.self,
            from: try Self.json(#"{"query":{"limit":"25","starting_after":"plan_1","active":"false"}}"#))
        #expect(payload.query.page.limit?.value == 25)
        #expect(payload.query.page.startingAfter?.value == "plan_1")
        #expect(payload.query.filters.active == false)
        let unknown = try #require(try Self.refusal(Commands.PlanList.Payload.self, #"{"query":{"limt":"25"}}"#))
        #expect(unknown.param == "limt")
        let tooMany = try #require(try Self.refusal(Commands.PlanList.Payload.self, #"{"query":{"limit":"101"}}"#))
        #expect(tooMany.detail == "limit must be between 1 and 100")
    }

    @Test func aPathPartIsRequiredWhereTheCommandNamesAnObject() throws {
        let problem = try #require(try Self.refusal(Commands.PlanGet.Payload.self, "{}"))
        #expect(problem.param == "id")
        #expect(problem.detail == "id is required")
        let payload = try PayloadDecoder.decode(Commands.PlanGet.Payload.self, from: try Self.json(#"{"path":{"id":"plan_1"}}"#))
        #expect(payload.path.id == "plan_1")
    }

    @Test(arguments: ["ada@example.com", "A.Lovelace+x@Mail.Example.org"])
    func emailsAreAcceptedAndLowercased(_ email: String) throws {
        let payload = try PayloadDecoder.decode(
            Commands.CustomerCreate.Payload.self, from: try Self.json(#"{"body":{"name":"Ada","email":"\#(email)"}}"#))
        #expect(payload.body.email.value == email.lowercased())
    }

    @Test(arguments: [
        "ada", "ada@", "@example.com", "ada@example", "ada @example.com", "ada@@example.com", "ada@exa_mple.com", "a..b@example.com",
    ])
    func malformedEmailsAre422NamingTheField(_ email: String) throws {
        let problem = try #require(
            try Self.refusal(Commands.CustomerCreate.Payload.self, #"{"body":{"name":"Ada","email":"\#(email)"}}"#))
        #expect(problem.status == 422 && problem.param == "email")
        #expect(problem.detail == "email must be an email address such as ada@example.com")
    }

    @Test func aListFilterTakesOnlyItsChoices() throws {
        let payload = try PayloadDecoder.decode(
            Commands.CustomerList.Payload.self, from: try Self.json(#"{"query":{"email":"Ada@Example.com","status":"suspended"}}"#))
        #expect(payload.query.filters.email?.value == "ada@example.com")
        #expect(payload.query.filters.status == .suspended)
        let problem = try #require(try Self.refusal(Commands.CustomerList.Payload.self, #"{"query":{"status":"gone"}}"#))
        #expect(problem.param == "status" && problem.detail == "status must be one of active, suspended, deleted")
    }

    @Test func anEndpointsEventTypesAreCheckedAsOneFieldAndRepeatsDrop() throws {
        let url = #""url":"https://example.com/hook""#
        let payload = try PayloadDecoder.decode(
            Commands.WebhookEndpointCreate.Payload.self,
            from: try Self.json(#"{"body":{\#(url),"events":["invoice.paid","*","invoice.paid"]}}"#))
        #expect(payload.body.events.values == ["invoice.paid", "*"])
        for (events, detail) in [
            ("[]", #"events must list at least one event type, such as ["invoice.paid"], or ["*"]"#),
            (#"["Invoice Paid"]"#, "events must each be '*' or an event type such as 'invoice.paid'"),
        ] {
            let problem = try #require(
                try Self.refusal(Commands.WebhookEndpointCreate.Payload.self, #"{"body":{\#(url),"events":\#(events)}}"#))
            #expect(problem.param == "events" && problem.detail == detail)
        }
    }

    @Test func bracketedQueryFieldsKeepTheirNames() throws {
        let payload = try PayloadDecoder.decode(
            Commands.EventList.Payload.self, from: try Self.json(#"{"query":{"created[gte]":"2026-01-31T12:00:00Z","limit":"5"}}"#))
        #expect(payload.query.filters.`created[gte]` == MessageCoding.parseTimestamp("2026-01-31T12:00:00Z"))
        #expect(payload.query.page.limit?.value == 5)
        let problem = try #require(try Self.refusal(Commands.EventList.Payload.self, #"{"query":{"created[lte]":"yesterday"}}"#))
        #expect(problem.param == "created[lte]")
        #expect(problem.detail == "created[lte] must be an RFC 3339 time such as 2026-01-31T12:00:00Z")
    }

    @Test func anInternalCommandsPayloadIsItsOwnShape() throws {
        let failure = try PayloadDecoder.decode(
            Commands.WebhookEndpointDisableFailing.Payload.self,
            from: try Self.json(#"{"endpoint_id":"we_1","window_started_at":"2026-01-31T12:00:00Z"}"#))
        #expect(failure.endpointID.value == "we_1")
        let problem = try #require(
            try Self.refusal(Commands.WebhookEndpointDisableFailing.Payload.self, #"{"endpoint_id":"we_1"}"#))
        #expect(problem.param == "window_started_at" && problem.detail == "window_started_at is required")
    }

    @Test func aSignInRequestCarriesTheCallerTheGatewaySaw() throws {
        let login = try PayloadDecoder.decode(
            Commands.AuthLogin.Payload.self,
            from: try Self.json(#"{"body":{"email":"Ada@Example.com","password":"pw"},"client":{"ip":"203.0.113.7"}}"#))
        #expect(login.body.email.value == "ada@example.com" && login.client.ip == "203.0.113.7")
        // Without the gateway (another service's command) there is no caller to name.
        let direct = try PayloadDecoder.decode(
            Commands.AuthLogin.Payload.self, from: try Self.json(#"{"body":{"email":"ada@example.com","password":"pw"}}"#))
        #expect(direct.client.ip == nil)
        let extra = try #require(try Self.refusal(Commands.AuthLogout.Payload.self, #"{"client":{"ip":"203.0.113.7"}}"#))
        #expect(extra.param == "client")
    }

    @Test func theTokenEndpointIgnoresParametersItDoesNotKnow() throws {
        let form = try PayloadDecoder.decode(
            Commands.AuthToken.Payload.self,
            from: try Self.json(#"{"body":{"grant_type":"client_credentials","client_id":"cli_1","resource":"https://api"}}"#))
        #expect(form.body.grantType.value == "client_credentials" && form.body.clientID?.value == "cli_1")
        let missing = try #require(try Self.refusal(Commands.AuthToken.Payload.self, #"{"body":{"scope":"customers:read"}}"#))
        #expect(missing.detail == "grant_type is required")
    }

    @Test func scopesAreCheckedAsOneFieldAndRepeatsDrop() throws {
        let draft = try PayloadDecoder.decode(
            Commands.ApiKeyCreate.Payload.self,
            from: try Self.json(#"{"body":{"name":"k","scopes":["customers:read","customers:read"],"mode":"test"}}"#))
        #expect(draft.body.scopes?.values == ["customers:read"] && draft.body.mode == .test)
        let bad = try #require(
            try Self.refusal(Commands.ApiKeyCreate.Payload.self, #"{"body":{"name":"k","scopes":["everything"]}}"#))
        #expect(bad.param == "scopes" && bad.detail == "scopes must each look like 'customers:read' or 'invoices:write'")
        let mode = try #require(try Self.refusal(Commands.ApiKeyCreate.Payload.self, #"{"body":{"name":"k","mode":"prod"}}"#))
        #expect(mode.param == "mode" && mode.detail == "mode must be one of live, test")
    }
}
