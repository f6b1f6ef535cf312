import BillingDomain
import MessageBus

/// An ISO 4217 code in capitals that the platform bills in (`USD`, `JPY`, `KWD`).
public struct CurrencyCode: Decodable, Sendable, Hashable {
    public let currency: Currency

    public init(from decoder: any Decoder) throws {
        let code = try decoder.singleValueContainer().decode(String.self)
        guard code.count == 3, code.allSatisfy({ $0.isASCII && $0.isUppercase }), let currency = Currency(code: code) else {
            throw FieldError("must be an ISO 4217 code in capitals, such as USD, EUR or JPY")
        }
        self.currency = currency
    }
}
