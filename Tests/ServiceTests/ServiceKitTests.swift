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

    /// A body of one field, `name`, and metadata, as a command payload declares them.
    struct Named: Decodable, Sendable {
        let name: Text<1, 200>?
        let metadata: Metadata?
    }

    static func decode<T: Decodable>(_ type: T.Type, _ fields: [String: JSONValue]) throws(Problem) -> T {
        try PayloadDecoder.decode(T.self, from: .object(fields))
    }

    @Test func unknownFieldsAreRefusedByName() {
        #expect(throws: Problem.invalid("role", "role is not a known field")) {
            try Self.decode(Named.self, ["name": .string("A"), "role": .string("admin")])
        }
    }

    @Test func operatorShapedValuesAreNotStrings() {
        #expect(throws: Problem.invalid("name", "name must be a string")) {
            try Self.decode(Named.self, ["name": .object(["$gt": .string("")])])
        }
    }

    @Test func lengthsAreCheckedInCharacters() throws {
        #expect(throws: Problem.invalid("name", "name must be at most 200 characters")) {
            try Self.decode(Named.self, ["name": .string(String(repeating: "é", count: 201))])
        }
        #expect(try Self.decode(Named.self, ["name": .string(String(repeating: "é", count: 200))]).name?.value.count == 200)
    }

    @Test func metadataKeysCannotBeOperatorsOrPaths() throws {
        for key in ["$where", "a.b", ""] {
            #expect(throws: Problem.self) { try Self.decode(Named.self, ["metadata": .object([key: .string("x")])]) }
        }
        let fine = try Self.decode(Named.self, ["metadata": .object(["plan": .string("{\"$gt\": \"\"}")])])
        #expect(fine.metadata?.values == ["plan": "{\"$gt\": \"\"}"])
    }

    @Test func pageRequestsReadLimitsAndCursors() throws {
        typealias Query = Request<NoFields, Listing<NoFields>, NoFields>
        #expect(PageRequest(try Self.decode(Query.self, [:]).query.page).limit == 10)
        let query = try Self.decode(
            Query.self, ["query": .object(["limit": .number("100"), "starting_after": .string("cus_1")])])
        let page = PageRequest(query.query.page)
        #expect(page.limit == 100 && page.startingAfter == "cus_1")
        for bad in ["0", "101", "ten", "1.5"] {
            #expect(throws: Problem.self) { try Self.decode(Query.self, ["query": .object(["limit": .string(bad)])]) }
        }
        let list = page.page([1, 2, 3]) { $0 * 10 }
        #expect(list.data == [10, 20, 30] && !list.hasMore)
        #expect(try ValueEncoder.encode(list)["has_more"] == .bool(false))
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
