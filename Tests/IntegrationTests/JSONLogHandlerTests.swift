import Foundation
import Logging
import Testing

@testable import Runtime

@Suite("JSON log lines")
struct JSONLogHandlerTests {
    @Test func aLineIsOneJSONObjectWithTimeLevelMessageAndMetadata() throws {
        var handler = JSONLogHandler(label: "billing.test")
        handler.metadata = ["service": "gateway", "overridden": "handler"]
        let event = LogEvent(
            level: .warning, message: "a \"quoted\"\nmessage",
            metadata: ["overridden": "event", "list": ["a", "b"], "nested": ["k": "v"], "count": .stringConvertible(3)],
            source: nil, file: #fileID, function: #function, line: #line)
        let data = handler.line(event, at: Date(timeIntervalSince1970: 1_769_860_800.123))
        #expect(data.last == 0x0A)
        #expect(data.dropLast().contains(0x0A) == false, "one line per event")
        let object = try #require(try JSONSerialization.jsonObject(with: data.dropLast()) as? [String: Any])
        #expect(object["ts"] as? String == "2026-01-31T12:00:00.123Z")
        #expect(object["level"] as? String == "warning")
        #expect(object["logger"] as? String == "billing.test")
        #expect(object["msg"] as? String == "a \"quoted\"\nmessage")
        #expect(object["service"] as? String == "gateway")
        #expect(object["overridden"] as? String == "event")
        #expect(object["list"] as? [String] == ["a", "b"])
        #expect((object["nested"] as? [String: String])?["k"] == "v")
        #expect(object["count"] as? String == "3")
    }
}
