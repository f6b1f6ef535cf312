import ArgumentParser
import Logging
import Runtime

/// `billing migrate`: create collections, `$jsonSchema` validators and indexes.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create collections, validators and indexes from schemas/collections.")

    @Option(help: "Folder holding the collection definitions.")
    var schemas: String = "schemas/collections"

    func run() async throws {
        let settings = try await loadSettings()
        let logger = Logger(label: "billing.migrate")
        let infrastructure = try await Infrastructure.connect(settings: settings, logger: logger)
        defer { Task { await infrastructure.shutdown() } }
        let applied = try await CollectionMigrator(client: infrastructure.mongo, database: infrastructure.databaseName)
            .apply(folder: schemas, logger: logger)
        logger.info("migrated", metadata: ["collections": "\(applied.count)", "names": "\(applied.joined(separator: ","))"])
        await infrastructure.shutdown()
    }
}
