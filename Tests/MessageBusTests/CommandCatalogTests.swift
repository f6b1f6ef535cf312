import Contracts
import Foundation
import MessageBus
import Testing

/// The typed catalogue of commands and events agrees with schemas/commands and schemas/events,
/// which stay the contract: a type without a schema, or a schema without a type, fails here.
@Suite struct CommandCatalogTests {
    static let schemas = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("schemas")

    static func titles(_ folder: String) throws -> [String: URL] {
        let directory = schemas.appendingPathComponent(folder)
        var titles: [String: URL] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where file.hasSuffix(".json") {
            let url = directory.appendingPathComponent(file)
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
            let title = try #require(object?["title"] as? String, "\(file) has a title")
            #expect(file == "\(title).json", "\(file) is named after its title")
            titles[title] = url
        }
        return titles
    }

    @Test func everyCommandTypeHasItsSchemaAndEverySchemaItsType() throws {
        let documented = try Self.titles("commands")
        let typed = Commands.all.map { $0.name }
        #expect(Set(typed).count == typed.count, "no command name twice")
        #expect(Set(typed) == Set(documented.keys), "typed only: \(Set(typed).subtracting(documented.keys)); schema only: \(Set(documented.keys).subtracting(typed))")
        let services: Set<String> = ["auth", "customer", "plan", "subscription", "invoice", "webhook", "notify"]
        for command in Commands.all {
            #expect(services.contains(command.service), "\(command.name) runs on a known service")
        }
    }

    @Test func everyEventTypeHasItsSchemaAndEverySchemaItsType() throws {
        let documented = try Self.titles("events")
        let typed = EventType.all.map(\.name)
        #expect(Set(typed).count == typed.count, "no event name twice")
        #expect(Set(typed) == Set(documented.keys), "typed only: \(Set(typed).subtracting(documented.keys)); schema only: \(Set(documented.keys).subtracting(typed))")
        for event in EventType.all {
            #expect(event.name.wholeMatch(of: /[a-z_]+\.[a-z_]+/) != nil, "\(event) is <resource>.<past-tense>")
        }
    }
}
