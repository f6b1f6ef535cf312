import ArgumentParser
import BillingCLI

/// `billing-bench serve <billing arguments>`: any `billing` process role, with the diagnostic `test`
/// service runnable (`serve worker test`) and its routes on the gateway (development mode only).
/// Benchmarks and fault tests start their processes through it.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a billing process role with the diagnostic test service (development only).")

    @Argument(parsing: .captureForPassthrough, help: "The billing command line, e.g. `worker test`.")
    var arguments: [String] = []

    func run() async throws {
        await Billing.execute(Billing.self, arguments)
    }
}
