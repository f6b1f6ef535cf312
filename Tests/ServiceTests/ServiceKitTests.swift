import Foundation
import MessageBus
import ServiceKit
import Testing

@Suite("ServiceKit: IDs, fields, pages, scopes")
struct ServiceKitTests {
    @Test func idsArePrefixedAndSortByCreationTime() {
        let earlier = ResourceID.make("cus", at: Date(timeIntervalSince1970: 1_700_000_000))
        let later = ResourceID.make("cus", at: Date(timeIntervalSince1970: 1_700_000_000.002))
        #expect(earlier.hasPrefix("cus_") && earlier.count == 36)
        #expect(earlier < later)
        #expect(ResourceID.isWellFormed(earlier, prefix: "cus"))
        #expect(!ResourceID.isWellFormed(earlier, prefix: "plan"))
        #expect(!ResourceID.isWellFormed("cus_", prefix: "cus"))
        #expect(!ResourceID.isWellFormed("cus_{\"$gt\":\"\"}", prefix: "cus"))
    }

    @Test func unknownFieldsAreRefusedByName() {
        #expect(throws: Problem.unknownField("role")) {
            try FieldReader(["name": .string("A"), "role": .string("admin")], allowing: ["name"])
        }
    }

    @Test func operatorShapedValuesAreNotStrings() throws {
        let reader = try FieldReader(["name": .object(["$gt": .string("")])], allowing: ["name"])
        do {
            _ = try reader.string("name", maxLength: 200)
            Issue.record("an object was read as a string")
        } catch {
            #expect(error.status == 422 && error.param == "name")
        }
    }

    @Test func lengthsAreCheckedInCharacters() throws {
        let long = try FieldReader(["name": .string(String(repeating: "é", count: 10_000))], allowing: ["name"])
        #expect(throws: Problem.invalid("name", "name must be at most 200 characters")) {
            try long.string("name", maxLength: 200)
        }
    }

    @Test func metadataKeysCannotBeOperatorsOrPaths() throws {
        for key in ["$where", "a.b", ""] {
            let reader = try FieldReader(["metadata": .object([key: .string("x")])], allowing: ["metadata"])
            #expect(throws: Problem.self) { try reader.metadata("metadata") }
        }
        let fine = try FieldReader(["metadata": .object(["plan": .string("{\"$gt\": \"\"}")])], allowing: ["metadata"])
        #expect(try fine.metadata("metadata") == ["plan": "{\"$gt\": \"\"}"])
    }

    @Test func pageRequestsReadLimitsAndCursors() throws {
        #expect(try PageRequest(FieldReader([:], allowing: PageRequest.parameters, lenient: true)).limit == 10)
        let query = try FieldReader(
            ["limit": .number("100"), "starting_after": .string("cus_1")], allowing: PageRequest.parameters, lenient: true)
        let page = try PageRequest(query)
        #expect(page.limit == 100 && page.startingAfter == "cus_1")
        for bad in ["0", "101", "ten", "1.5"] {
            let reader = try FieldReader(["limit": .string(bad)], allowing: PageRequest.parameters, lenient: true)
            #expect(throws: Problem.self) { try PageRequest(reader) }
        }
        let list = page.page([1, 2, 3]) { JSONValue.number(String($0)) }
        #expect(list["has_more"] == .bool(false))
    }

    @Test func aCustomerPrincipalIsScopedToItselfAndOthersAre404() throws {
        let customer = Access(Principal(subject: "usr_1", role: .customer, tenant: "t1", customerID: "cus_a"))
        #expect(try customer.customer("cus_a")["_id"] == .string("cus_a"))
        #expect(throws: Problem.notFound("customer")) { try customer.customer("cus_b") }
        #expect(customer.scope()?["customer_id"] == .string("cus_a"))
        #expect(customer.scope()?["tenant_id"] == .string("t1"))
        let anonymous = Access(Principal(subject: "anonymous", role: .customer, tenant: "default"))
        #expect(anonymous.scope() == nil)
        let admin = Access(Principal(subject: "usr_admin", role: .admin, tenant: "t1"))
        #expect(try admin.customer("cus_b") == ["tenant_id": "t1", "_id": "cus_b"])
    }
}
