import ArgumentParser
import AuthService
import Contracts
import Foundation
import Logging
import Runtime

/// `billing admin …`: operator tasks on the auth data.
struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the first admin, rotate the token signing keys.",
        subcommands: [Bootstrap.self, RotateKeys.self])

    struct Bootstrap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the first admin user and print its password once; does nothing if an admin exists.")

        @Option(help: "The admin's email (the address it signs in with).")
        var email: String = "admin@example.com"

        @Option(help: "The tenant.")
        var tenant: String = "default"

        func validate() throws {
            // The rule login applies: an admin created here must be able to sign in.
            guard EmailAddress.isValid(email.trimmingCharacters(in: .whitespaces).lowercased()) else {
                throw ValidationError("'\(email)' is not an email address (a dotted domain, such as admin@example.com)")
            }
        }

        func run() async throws {
            let settings = try await loadSettings()
            let infrastructure = try await Infrastructure.connect(settings: settings, logger: Logger(label: "billing.admin"))
            let auth = try ServiceCatalog.auth(settings, infrastructure: infrastructure)
            let result: AuthService.BootstrapResult
            do {
                result = try await auth.bootstrapAdmin(email: email, tenant: tenant, now: Date())
            } catch {
                await infrastructure.shutdown()
                throw error
            }
            await infrastructure.shutdown()
            if let password = result.password {
                print("created the first admin of tenant '\(tenant)'")
                print("email:    \(result.email)")
                print("password: \(password)")
                print("This password is shown once; sign in with POST /v1/auth/login.")
            } else {
                print("tenant '\(tenant)' already has an admin (\(result.email)); nothing changed")
            }
        }
    }

    struct RotateKeys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-keys",
            abstract: "Add a new token signing key; the old ones stay verifiable until their last token expires.")

        func run() async throws {
            let settings = try await loadSettings()
            let infrastructure = try await Infrastructure.connect(settings: settings, logger: Logger(label: "billing.admin"))
            let auth = try ServiceCatalog.auth(settings, infrastructure: infrastructure)
            do {
                let kid = try await auth.keys.rotate(now: Date())
                print("new signing key \(kid); previous keys verify until their tokens expire")
            } catch {
                await infrastructure.shutdown()
                throw error
            }
            await infrastructure.shutdown()
        }
    }
}
