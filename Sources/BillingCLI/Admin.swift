import ArgumentParser
import AuthService
import BillingService
import Contracts
import Foundation
import Logging
import Runtime

/// `billing admin …`: operator tasks on the auth data.
struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create tenants and their first admins, rotate the token signing keys.",
        subcommands: [TenantCommand.self, Bootstrap.self, RotateKeys.self])

    struct TenantCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tenant", abstract: "The platform operator's tenants.", subcommands: [Create.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create a tenant (then `billing admin bootstrap --tenant <id>` for its first admin); does nothing if it exists.")

            @Argument(help: "The tenant's id: 1 to 40 lower-case letters, digits, - or _.")
            var id: String

            @Option(help: "Its name, shown on its invoices.")
            var name: String

            func validate() throws {
                guard TenantID.isValid(id) else {
                    throw ValidationError("'\(id)' is not a tenant id: 1 to 40 lower-case letters, digits, - or _, starting with a letter or digit")
                }
                guard !name.trimmingCharacters(in: .whitespaces).isEmpty, name.count <= 200 else {
                    throw ValidationError("--name must be 1 to 200 characters")
                }
            }

            func run() async throws {
                let settings = try await loadSettings()
                let infrastructure = try await Infrastructure.connect(settings: settings, logger: Logger(label: "billing.admin"))
                let created: Bool
                do {
                    created = try await TenantDocument.create(
                        id: id, name: name, in: ServiceCatalog.database(infrastructure), at: Date())
                } catch {
                    await infrastructure.shutdown()
                    throw error
                }
                await infrastructure.shutdown()
                print(created ? "created tenant '\(id)'" : "tenant '\(id)' exists; nothing changed")
            }
        }
    }

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
                guard try await TenantDocument.exists(tenant, in: ServiceCatalog.database(infrastructure)) else {
                    throw ValidationError("no tenant '\(tenant)': create it first with billing admin tenant create \(tenant) --name <name>")
                }
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
