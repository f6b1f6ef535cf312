import Contracts
import Foundation
import MessageBus

/// The admin routes over ``StreamAdmin`` (DESIGN §5): `GET /v1/admin/streams`,
/// `GET /v1/admin/dead-letters`, `POST /v1/admin/dead-letters/{id}/retry`. The gateway lets only
/// admins through; a worker registers these handlers (the `webhook` worker serves them).
///
/// Stream status is operational and global (counts, groups, consumers). Dead letters hold other
/// tenants' commands, so an admin sees and retries only those whose envelope names its tenant;
/// entries whose envelope cannot be read (no tenant to tell) are shown to the `default` tenant's
/// admins, the operator. The envelope text itself is never returned (a dead-lettered sign-in holds
/// a password): its type and the error are.
public struct StreamAdminHandlers: Sendable {
    public let names: StreamNames
    /// The services whose command streams and dead letters are shown.
    public let services: [String]
    /// The streams' configured capacity, which a retry respects.
    public let retention: StreamRetention
    /// The tenant whose admins also see unreadable dead letters.
    public static let operatorTenant = "default"

    public init(names: StreamNames, services: [String], retention: StreamRetention = StreamRetention()) {
        self.names = names
        self.services = services
        self.retention = retention
    }

    public func register(into registry: inout HandlerRegistry) {
        registry.read(Commands.AdminStreams.self) { _, context, _ in try await streams(admin(context)) }
        registry.read(Commands.AdminDeadLetters.self) { envelope, context, _ in
            try await deadLetters(admin(context), for: envelope.principal)
        }
        registry.read(Commands.AdminDeadLetterRetry.self) { envelope, context, payload in
            try await retry(admin(context), id: payload.path.id, for: envelope.principal)
        }
    }

    private func admin(_ context: ReadContext) -> StreamAdmin { StreamAdmin(redis: context.redis, names: names, retention: retention) }

    func streams(_ admin: StreamAdmin) async throws -> Answer<ItemList<StreamReport>> {
        let status = try await admin.status(services: services)
        return Answer(
            ItemList(
                status.map { stream in
                    StreamReport(
                        stream: stream.stream, length: stream.length, deadLetters: stream.deadLetters,
                        groups: stream.groups.map { group in
                            StreamReport.Group(
                                name: group.name, lag: group.lag, pending: group.pending,
                                oldestPendingMs: group.oldestPendingAge.map { Int($0.wholeMilliseconds) },
                                consumers: group.consumers.map {
                                    StreamReport.Consumer(name: $0.name, pending: $0.pending, idleMs: $0.idleMilliseconds)
                                })
                        })
                }))
    }

    /// A dead letter's ID in the API: `<service>:<entry time in hex>_<sequence>` (entry IDs are per
    /// stream). Not the entry ID's own `<ms>-<seq>`: its digits, dash included, are a 14-digit run
    /// that passes the Luhn check about one time in ten, and the gateway refuses card-number-shaped
    /// paths; here no run of decimal digits is standalone or longer than 11.
    public static func publicID(service: String, entry: String) -> String {
        let parts = entry.split(separator: "-", maxSplits: 1)
        guard parts.count == 2, let ms = UInt64(parts[0]), let seq = UInt64(parts[1]) else { return "\(service):\(entry)" }
        return "\(service):\(String(ms, radix: 16))_\(seq)"
    }

    /// The service and stream entry ID of a public dead-letter ID; nil when it is not one.
    static func entry(ofPublicID id: String) -> (service: String, entry: String)? {
        let parts = id.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        let halves = parts[1].split(separator: "_", omittingEmptySubsequences: false)
        guard halves.count == 2, halves[0].count <= 16, halves[1].count <= 20,
            halves[0].allSatisfy(\.isHexDigit), halves[1].allSatisfy(\.isASCII),
            let ms = UInt64(halves[0], radix: 16), let seq = UInt64(halves[1])
        else { return nil }
        return (parts[0], "\(ms)-\(seq)")
    }

    /// The tenant a dead letter's envelope names; nil when the envelope cannot be read.
    static func tenant(of letter: DeadLetter) -> (tenant: String, type: String)? {
        guard let envelope = try? MessageCoding.decode(Envelope.self, from: letter.envelope) else { return nil }
        return (envelope.principal.tenant, envelope.type)
    }

    static func visible(_ letter: DeadLetter, to principal: Principal) -> Bool {
        (tenant(of: letter)?.tenant ?? operatorTenant) == principal.tenant
    }

    func deadLetters(_ admin: StreamAdmin, for principal: Principal) async throws -> Answer<ItemList<DeadLetterReport>> {
        var data: [DeadLetterReport] = []
        for service in services {
            for letter in try await admin.deadLetters(service: service) where Self.visible(letter, to: principal) {
                data.append(
                    DeadLetterReport(
                        id: Self.publicID(service: service, entry: letter.id), service: service, originalID: letter.originalID,
                        type: Self.tenant(of: letter)?.type, error: letter.error, deliveries: letter.deliveries,
                        deadLetteredAt: letter.deadLetteredAt))
            }
        }
        return Answer(ItemList(data))
    }

    func retry(_ admin: StreamAdmin, id: String, for principal: Principal) async throws -> Answer<DeadLetterRetried> {
        guard let (service, entry) = Self.entry(ofPublicID: id), services.contains(service) else {
            throw Problem.notFound("dead letter \(id)")
        }
        guard
            let letter = try await admin.deadLetters(service: service, from: entry, count: 1).first,
            letter.id == entry, Self.visible(letter, to: principal)
        else { throw Problem.notFound("dead letter \(id)") }
        let retried = try await admin.retryDeadLetters(service: service, ids: [entry])
        guard retried == 1 else { throw Problem.notFound("dead letter \(id)") }
        return Answer(DeadLetterRetried(id: id, service: service))
    }
}
