import ArgumentParser

/// The `billing` command line: one subcommand per process role, and the operator's tools.
public struct Billing: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "billing",
        abstract: "Subscription billing over Redis Streams and MongoDB.",
        discussion: "Configuration comes from BILLING_* environment variables; see the README.",
        subcommands: [All.self, GatewayCommand.self, Worker.self, SchedulerCommand.self, Migrate.self, Streams.self, Admin.self]
    )
}

extension Billing {
    /// Parses `arguments` (the process's own when nil) as `root`'s command line and runs the chosen
    /// command, awaiting it when it is async; exits with its error. (`main()` called from top-level
    /// code picks the synchronous entry point, which refuses async commands.)
    public static func execute(_ root: any ParsableCommand.Type = Billing.self, _ arguments: [String]? = nil) async {
        do {
            var command = try root.parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            root.exit(withError: error)
        }
    }
}
