import ArgumentParser

@main
struct Billing: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "billing",
        abstract: "Subscription billing over Redis Streams and MongoDB.",
        discussion: "Configuration comes from BILLING_* environment variables; see the README.",
        subcommands: [All.self, GatewayCommand.self, Worker.self, SchedulerCommand.self, Migrate.self, Streams.self, Admin.self, Bench.self]
    )
}
