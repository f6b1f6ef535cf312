import BillingDomain
import Foundation
import MessageBus

// schemas/commands/{coupon,tax_rate}.*.json as types.

/// How long a coupon's discount lasts once applied (DESIGN §13, Stripe's values).
public enum CouponDuration: String, Codable, Sendable, CaseIterable {
    /// The first invoice with something to pay.
    case once
    /// Invoices issued within `duration_in_months` of applying it.
    case repeating
    case forever
}

/// `POST /v1/coupons`: `percent_off` (a JSON number) or `amount_off` (a decimal string) with `currency`.
public struct CouponDraft: Decodable, Sendable {
    public let name: Text<1, 100>?
    public let percentOff: Decimal?
    public let amountOff: DecimalText?
    public let currency: CurrencyCode?
    public let duration: CouponDuration
    public let durationInMonths: Bounded<1, 120>?
    public let maxRedemptions: Bounded<1, 1_000_000_000>?
    public let redeemBy: Date?
    public let metadata: Metadata?
}

/// `POST /v1/tax-rates`: the percentage is a JSON number and never changes.
public struct TaxRateDraft: Decodable, Sendable {
    public let displayName: Text<1, 100>
    public let description: Text<0, 500>?
    public let percentage: Decimal
    public let inclusive: Bool
    public let country: CountryCode?
    public let metadata: Metadata?
}

/// `PATCH /v1/tax-rates/{id}`: what may change of a tax rate.
public struct TaxRateChanges: Decodable, Sendable {
    public let displayName: Text<1, 100>?
    public let description: Text<0, 500>?
    public let active: Bool?
    public let metadata: Metadata?
}

/// `GET /v1/tax-rates` filters.
public struct TaxRateFilters: Decodable, Sendable {
    public let active: Bool?
}

/// An ISO 3166-1 alpha-2 country code in capitals (`DE`, `US`).
public struct CountryCode: Decodable, Sendable, Hashable {
    public let value: String

    public init(from decoder: any Decoder) throws {
        let code = try decoder.singleValueContainer().decode(String.self)
        guard code.count == 2, code.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            throw FieldError("must be an ISO 3166-1 alpha-2 country code in capitals, such as DE or US")
        }
        value = code
    }
}

/// Why a credit note was issued (Stripe's values).
public enum CreditNoteReason: String, Codable, Sendable, CaseIterable {
    case duplicate, fraudulent
    case orderChange = "order_change"
    case productUnsatisfactory = "product_unsatisfactory"
}

/// `POST /v1/credit-notes`: `amount`, or `lines` whose amounts are summed.
public struct CreditNoteDraft: Decodable, Sendable {
    public struct Line: Decodable, Sendable, Hashable {
        public let line: Bounded<0, 999>
        public let amount: DecimalText
    }

    public let invoice: Text<1, 80>
    public let amount: DecimalText?
    public let lines: Items<Line, 100>?
    public let reason: CreditNoteReason?
    public let memo: Text<0, 500>?
    public let refund: Bool?
    public let metadata: Metadata?
}

/// `GET /v1/credit-notes` filters.
public struct CreditNoteFilters: Decodable, Sendable {
    public let invoice: Text<0, 64>?
    public let customerID: Text<0, 64>?
}

/// A tenant's id: 1–40 lower-case letters, digits, `-` or `_`, starting with a letter or digit.
public struct TenantID: Decodable, Sendable, Hashable {
    public let value: String

    public static func isValid(_ text: String) -> Bool { text.wholeMatch(of: /[a-z0-9][a-z0-9_-]{0,39}/) != nil }

    /// The tenant every deployment has: public requests without `Billing-Tenant` are for it.
    public static let defaultTenant = "default"

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard Self.isValid(text) else {
            throw FieldError("must be 1 to 40 lower-case letters, digits, - or _, starting with a letter or digit")
        }
        value = text
    }
}

/// A postal address as invoices show it.
public struct PostalAddress: Codable, Sendable, Hashable {
    public var line1, line2, city, postalCode, country: String?

    public init(line1: String?, line2: String?, city: String?, postalCode: String?, country: String?) {
        (self.line1, self.line2, self.city, self.postalCode, self.country) = (line1, line2, city, postalCode, country)
    }
}

/// `address` in a tenant's settings: every part optional, `country` ISO 3166-1 alpha-2.
public struct PostalAddressInput: Decodable, Sendable, Hashable {
    public let line1: Text<0, 200>?
    public let line2: Text<0, 200>?
    public let city: Text<0, 100>?
    public let postalCode: Text<0, 20>?
    public let country: CountryCode?

    public var address: PostalAddress {
        PostalAddress(
            line1: line1?.value, line2: line2?.value, city: city?.value, postalCode: postalCode?.value, country: country?.value)
    }
}

/// An invoice-number prefix: 1 to 12 capital letters or digits (`INV`, `ACME`).
public struct InvoicePrefix: Decodable, Sendable, Hashable {
    public let value: String

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard InvoiceNumber.isValidPrefix(text) else { throw FieldError("must be 1 to 12 capital letters or digits") }
        value = text
    }
}

/// `PATCH /v1/tenant`, and the settings of `POST /v1/tenants`.
public struct TenantChanges: Decodable, Sendable {
    public let name: Text<1, 200>?
    public let address: PostalAddressInput?
    public let taxID: Text<0, 64>?
    public let defaultCurrency: CurrencyCode?
    public let invoicePrefix: InvoicePrefix?
}

/// `POST /v1/tenants`.
public struct TenantDraft: Decodable, Sendable {
    public let id: TenantID
    public let name: Text<1, 200>
    public let address: PostalAddressInput?
    public let taxID: Text<0, 64>?
    public let defaultCurrency: CurrencyCode?
    public let invoicePrefix: InvoicePrefix?
}

extension Commands.TenantCreate { public typealias Payload = Request<NoFields, NoFields, TenantDraft> }
extension Commands.TenantGet { public typealias Payload = Request<NoFields, NoFields, NoFields> }
extension Commands.TenantUpdate { public typealias Payload = Request<NoFields, NoFields, TenantChanges> }
extension Commands.CreditNoteCreate { public typealias Payload = Request<NoFields, NoFields, CreditNoteDraft> }
extension Commands.CreditNoteGet { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.CreditNoteList { public typealias Payload = Request<NoFields, Listing<CreditNoteFilters>, NoFields> }
extension Commands.CreditNoteVoid { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.CouponCreate { public typealias Payload = Request<NoFields, NoFields, CouponDraft> }
extension Commands.CouponGet { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.CouponList { public typealias Payload = Request<NoFields, Listing<NoFields>, NoFields> }
extension Commands.CouponDelete { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.TaxRateCreate { public typealias Payload = Request<NoFields, NoFields, TaxRateDraft> }
extension Commands.TaxRateUpdate { public typealias Payload = Request<IDPath, NoFields, TaxRateChanges> }
extension Commands.TaxRateGet { public typealias Payload = Request<IDPath, NoFields, NoFields> }
extension Commands.TaxRateList { public typealias Payload = Request<NoFields, Listing<TaxRateFilters>, NoFields> }
