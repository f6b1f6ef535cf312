import ArgumentParser
import Foundation
import Runtime

/// Loads settings and installs JSON logging; a bad setting stops the command with its name.
public func loadSettings() async throws -> BillingSettings {
    do {
        let settings = try await BillingSettings.load()
        JSONLogHandler.bootstrap(level: settings.logLevel)
        return settings
    } catch let error as BillingSettings.Invalid {
        throw ValidationError("invalid configuration: \(error)")
    }
}
