import MessageBus
import Testing

@testable import Gateway

@Suite("Card numbers are recognised, IDs are not")
struct CardNumberGuardTests {
    @Test(arguments: [
        "4242424242424242", "4242 4242 4242 4242", "4000-0566-5566-5556", "card: 5555555555554444, exp 12/34",
        "378282246310005",
    ])
    func cardNumbersAreFound(_ text: String) {
        #expect(CardNumberGuard.containsCardNumber(text))
    }

    @Test(arguments: [
        // Luhn-valid digit stretches inside IDs (hexadecimal after a prefix) are not card numbers.
        "pm_01a2141b4242424242424242c0ffee", "sub_4242424242424242", "in_0192f4a14242424242424242",
        "4242 4242 4242 4241",  // fails Luhn
        "+1 415 555 2671", "2024-01-31T00:00:00Z", "19.99", "12345678901234567890123",  // too long a run
    ])
    func otherDigitsAreNot(_ text: String) {
        #expect(!CardNumberGuard.containsCardNumber(text))
    }

    @Test func anIDInANestedBodyIsNotRefusedButACardIsNamedByPath() {
        let body: JSONValue = .object([
            "plan_id": .string("plan_019a4242424242424242e1"),
            "metadata": .object(["note": .string("pay with 4242 4242 4242 4242")]),
        ])
        #expect(CardNumberGuard.firstCardNumber(in: body) == "metadata.note")
    }
}
