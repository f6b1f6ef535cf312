import ArgumentParser
import Foundation
import Logging
import MessageBus
import WorkerRuntime
import Redis
import Runtime
import Synchronization

/// `billing streams …`: operate the streams (lag, pending, dead letters, replay).
struct Streams: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Operate the streams: status, pending entries, dead letters, replay.",
        subcommands: [Status.self, Pending.self, DeadLetters.self, Replay.self])

    /// What every `streams` subcommand needs: settings and a connected admin.
    static func admin() async throws -> (StreamAdmin, Infrastructure, BillingSettings) {
        let settings = try await loadSettings()
        let infrastructure = try await Infrastructure.connect(settings: settings, logger: Logger(label: "billing.streams"))
        return (StreamAdmin(redis: infrastructure.redis, names: ServiceCatalog.names(settings), retention: settings.streamRetention), infrastructure, settings)
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per stream: length, groups, lag, pending, oldest pending age, consumers, dead letters.")

        @Option(parsing: .upToNextOption, help: "Services to show (default: every known service).")
        var services: [String] = []

        func run() async throws {
            let (admin, infrastructure, _) = try await Streams.admin()
            defer { Task { await infrastructure.shutdown() } }
            let chosen = services.isEmpty ? ServiceCatalog.known : services
            print(pad("stream", 28) + pad("length", 9) + pad("group", 14) + pad("lag", 8) + pad("pending", 9)
                + pad("oldest", 10) + pad("consumers", 10) + "dlq")
            for stream in try await admin.status(services: chosen) {
                if stream.groups.isEmpty {
                    print(pad(stream.stream, 28) + pad("\(stream.length)", 9) + pad("-", 14) + pad("-", 8) + pad("-", 9)
                        + pad("-", 10) + pad("-", 10) + "\(stream.deadLetters)")
                }
                for group in stream.groups {
                    let oldest = group.oldestPendingAge.map { "\($0.components.seconds)s" } ?? "-"
                    print(pad(stream.stream, 28) + pad("\(stream.length)", 9) + pad(group.name, 14)
                        + pad(group.lag.map(String.init) ?? "?", 8) + pad("\(group.pending)", 9) + pad(oldest, 10)
                        + pad("\(group.consumers.count)", 10) + "\(stream.deadLetters)")
                }
            }
            await infrastructure.shutdown()
        }
    }

    struct Pending: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pending entries of a service's group.")
        @Argument var service: String
        @Option var count: Int = 100

        func run() async throws {
            let (admin, infrastructure, _) = try await Streams.admin()
            print(pad("entry", 22) + pad("consumer", 32) + pad("idle", 12) + "deliveries")
            for entry in try await admin.pending(service: service, count: count) {
                print(pad(entry.id, 22) + pad(entry.consumer, 32) + pad("\(entry.idleMilliseconds)ms", 12) + "\(entry.deliveryCount)")
            }
            await infrastructure.shutdown()
        }
    }

    struct DeadLetters: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dlq", abstract: "List, retry or purge a service's dead letters.")
        enum Action: String, ExpressibleByArgument, CaseIterable { case list, retry, purge }

        @Argument(help: "list, retry or purge") var action: Action
        @Argument var service: String
        @Option(parsing: .upToNextOption, help: "Dead-letter IDs (default: all).") var id: [String] = []

        func run() async throws {
            let (admin, infrastructure, _) = try await Streams.admin()
            switch action {
            case .list:
                for letter in try await admin.deadLetters(service: service, count: 1000)
                where id.isEmpty || id.contains(letter.id) {
                    let when = letter.deadLetteredAt.map(MessageCoding.formatTimestamp) ?? "?"
                    print("\(letter.id)  original \(letter.originalID)  deliveries \(letter.deliveries)  at \(when)")
                    print("    error: \(letter.error)")
                }
            case .retry:
                print("retried \(try await admin.retryDeadLetters(service: service, ids: id))")
            case .purge:
                print("purged \(try await admin.purgeDeadLetters(service: service, ids: id))")
            }
            await infrastructure.shutdown()
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-run a range of a service's command stream; only what was not yet applied changes.")
        @Argument var service: String
        @Option(help: "First stream ID (inclusive), or - for the start.") var from: String
        @Option(help: "Last stream ID (inclusive), or + for the end.") var to: String = "+"

        func validate() throws {
            guard ServiceCatalog.known.contains(service) else {
                throw ValidationError(ServiceCatalog.UnknownService(name: service).description)
            }
        }

        func run() async throws {
            let (_, infrastructure, settings) = try await Streams.admin()
            let processor = try ServiceCatalog.processor(service, settings: settings, infrastructure: infrastructure)
            let replayer = Replayer(redis: infrastructure.redis, processor: processor)
            let started = ContinuousClock.now
            let lastPrint = Mutex(ContinuousClock.now)
            let summary = try await replayer.replay(
                stream: ServiceCatalog.names(settings).commands(service), from: from, to: to
            ) { progress in
                let due = lastPrint.withLock { last -> Bool in
                    guard ContinuousClock.now - last > .seconds(2) else { return false }
                    last = ContinuousClock.now
                    return true
                }
                if due { print("… \(progress.total) replayed (\(progress))") }
            }
            let seconds = (ContinuousClock.now - started).components.seconds
            print("replayed \(summary.total) in \(seconds)s: \(summary)")
            await infrastructure.shutdown()
            if summary.failed > 0 { throw ExitCode(2) }
        }
    }
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}
