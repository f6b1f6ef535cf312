/// A billing input the rules refuse, with a code the gateway maps to a status (see ``Code``), a
/// message that says what to fix, and the field at fault when there is one.
public struct BillingRuleError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Extensible error code; the gateway maps each to one HTTP status.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// Two amounts in different currencies met in one rule (422).
        public static let currencyMismatch = Code(rawValue: "currency_mismatch")
        /// A time outside the billing period a rule was asked about (422 from input, else a bug).
        public static let outsidePeriod = Code(rawValue: "outside_period")
        /// `interval_count` outside 1...365 (422).
        public static let invalidIntervalCount = Code(rawValue: "invalid_interval_count")
        /// A line quantity below 1, or a usage quantity below 0 (422).
        public static let invalidQuantity = Code(rawValue: "invalid_quantity")
        /// A usage charge a plan cannot carry: bad tiers, a negative or too precise price … (422).
        public static let invalidCharge = Code(rawValue: "invalid_charge")
        /// A tax percentage outside (0, 100] or with more than 4 decimals (422).
        public static let invalidTaxRate = Code(rawValue: "invalid_tax_rate")
        /// A coupon's percent or amount off that cannot be applied (422).
        public static let invalidDiscount = Code(rawValue: "invalid_discount")
        /// A credit note the invoice cannot take: too much, a refund of nothing paid … (422).
        public static let invalidCreditNote = Code(rawValue: "invalid_credit_note")
        /// A dunning schedule that is not a strictly increasing list of positive delays (configuration).
        public static let invalidDunningSchedule = Code(rawValue: "invalid_dunning_schedule")
        /// An invoice sequence below 1 (a bug in the counter).
        public static let invalidInvoiceNumber = Code(rawValue: "invalid_invoice_number")

        public var description: String { rawValue }
    }

    public let code: Code
    public let message: String
    /// The request field at fault (`interval_count`, `plan_id` …), when one is.
    public let field: String?

    public init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    public var description: String { "\(code): \(message)" }

    /// The same error with its field placed under `prefix`: `tiers[1].up_to` under `charges[0]`
    /// is `charges[0].tiers[1].up_to`.
    public func nested(under prefix: String) -> BillingRuleError {
        BillingRuleError(code, message, field: field.map { "\(prefix).\($0)" } ?? prefix)
    }

    static func currencyMismatch(_ expected: Currency, _ found: Currency, field: String? = nil) -> BillingRuleError {
        BillingRuleError(
            .currencyMismatch, "amounts in \(found) cannot be combined with amounts in \(expected)", field: field)
    }
}
