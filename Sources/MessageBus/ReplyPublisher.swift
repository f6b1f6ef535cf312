import Foundation
import Redis

/// The worker side of replies: XADD to the asking gateway's reply stream (kept short and expiring)
/// and store the result as the operation's state, for `GET /v1/operations/{id}`: 24 h for an
/// operation answered 202 (asked with `respond-async`, or whose gateway stopped waiting), a few
/// minutes for one answered at once (only the 202 handshake needs it; retaining every answer a day
/// would grow Redis by every read a client makes).
public struct ReplyPublisher: Sendable {
    public let redis: RedisClient
    public let names: StreamNames
    public let retention: StreamRetention
    /// How long the state of an operation answered 202 stays readable.
    public let operationTTL: Duration
    /// How long the state of an operation answered at once is kept: long enough for a gateway that
    /// stops waiting right then to find it (and keep it for ``operationTTL``, see ``OperationCompleted``).
    public let answeredOperationTTL: Duration
    /// The largest result an operation's state keeps (its JSON, in bytes); a larger one is stored
    /// as ``Reply/omittingResult(bytes:limit:)``, so one client's large answers cannot fill Redis
    /// for a day. The waiting gateway still gets the whole reply.
    public var maxStoredResultBytes = 65_536

    public init(
        redis: RedisClient, names: StreamNames = StreamNames(), retention: StreamRetention = StreamRetention(),
        operationTTL: Duration = .seconds(86_400), answeredOperationTTL: Duration = .seconds(300)
    ) {
        self.redis = redis
        self.names = names
        self.retention = retention
        self.operationTTL = operationTTL
        self.answeredOperationTTL = answeredOperationTTL
    }

    /// `billing:op:{<id>}`: the operation's state.
    public func operationKey(_ id: String) -> String { names.operation(id) }

    /// The reply-stream field of an entry that holds several replies (a JSON array); an entry
    /// with one reply holds it in ``CommandBus/envelopeField``.
    public static let repliesField = "replies"

    /// Delivers `reply` for `command`: to its reply stream (if a gateway waits) and as operation state.
    public func publish(_ reply: Reply, for command: Envelope) async throws {
        try await publish([(reply, command)])
    }

    /// The stream entries a batch's answers acknowledge: XACKed after the answers are stored.
    public struct Acknowledgement: Sendable {
        public var stream: String
        public var group: String
        public var ids: [String]

        public init(stream: String, group: String, ids: [String]) {
            self.stream = stream
            self.group = group
            self.ids = ids
        }
    }

    /// Delivers a batch of replies: plain commands pipelined in one write, in this order: per
    /// reply, the operation state (SET, 24 h); one MGET of the 202 markers of the operations a
    /// client may have been told about asynchronously; per reply stream, one entry with all of the
    /// batch's replies for it (field `envelope` for one, `replies` with a JSON array for several),
    /// bounded, its expiry re-armed. Then the `operation.completed` events, and only once all of
    /// that succeeded, the XACK of `acknowledging`'s entries in a write of its own. (Redis runs
    /// every command of a pipeline whatever the others answer: an XACK in the same write would
    /// acknowledge entries whose reply XADD failed, say with WRONGTYPE or OOM, and nobody would
    /// ever answer them.) When anything fails, this throws and nothing is acknowledged: the
    /// entries are redelivered and their stored replies re-sent.
    ///
    /// `operation.completed` is raised for every operation answered 202 at once
    /// (`respond_async`) and for every one whose marker the gateway had set: as the state is
    /// stored before the markers are read, and the gateway sets a marker and reads the state in
    /// one script, one of the two sides always sees the other (both may: consumers dedupe the
    /// event by its ID).
    nonisolated(nonsending) public func publish(_ batch: [(Reply, Envelope)], acknowledging: Acknowledgement? = nil) async throws {
        let acknowledged = acknowledging?.ids ?? []
        guard !batch.isEmpty || !acknowledged.isEmpty else { return }
        let ttl = RedisArgument(operationTTL.wholeMilliseconds)
        let shortTTL = RedisArgument(answeredOperationTTL.wholeMilliseconds)
        var commands: [[RedisArgument]] = []
        commands.reserveCapacity(batch.count + 6)
        var markerKeys: [RedisArgument] = ["MGET"]
        var markerPositions: [Int] = []
        var answeredAsync: [Int] = []
        var waiting: [(stream: String, replies: [[UInt8]])] = []
        for (position, (reply, command)) in batch.enumerated() {
            let replyJSON = reply.jsonBytes
            var storedJSON = reply.secretFields == nil ? replyJSON : reply.redacted().jsonBytes
            if storedJSON.count > maxStoredResultBytes {
                storedJSON = reply.omittingResult(bytes: storedJSON.count, limit: maxStoredResultBytes).jsonBytes
            }
            let state = OperationRecord.data(
                replyJSON: storedJSON, subject: command.principal.subject, tenant: command.principal.tenant,
                customerID: command.principal.customerID)
            // Kept a day only once a client was told 202 (a marker found below extends it).
            commands.append([
                "SET", RedisArgument(operationKey(reply.id)), RedisArgument(bytes: state), "PX",
                command.respondAsync == true ? ttl : shortTTL,
            ])
            if command.respondAsync == true {
                answeredAsync.append(position)
            } else {
                markerKeys.append(RedisArgument(OperationCompleted.asyncMarkerKey(names, reply.id)))
                markerPositions.append(position)
            }
            if !command.replyTo.isEmpty {
                if let index = waiting.firstIndex(where: { $0.stream == command.replyTo }) {
                    waiting[index].replies.append(replyJSON)
                } else {
                    waiting.append((command.replyTo, [replyJSON]))
                }
            }
        }
        let markersAt = markerPositions.isEmpty ? nil : commands.count
        if markersAt != nil { commands.append(markerKeys) }
        let streamTTL = RedisArgument(retention.replyStreamTTL.wholeMilliseconds)
        for (stream, replies) in waiting {
            let field: RedisArgument
            let value: [UInt8]
            if replies.count == 1 {
                (field, value) = (RedisArgument(CommandBus.envelopeField), replies[0])
            } else {
                var array: [UInt8] = [UInt8(ascii: "[")]
                array.reserveCapacity(replies.reduce(2) { $0 + $1.count + 1 })
                for (index, reply) in replies.enumerated() {
                    if index > 0 { array.append(UInt8(ascii: ",")) }
                    array.append(contentsOf: reply)
                }
                array.append(UInt8(ascii: "]"))
                (field, value) = (RedisArgument(Self.repliesField), array)
            }
            let key = RedisArgument(stream)
            commands.append(
                ["XADD", key, "MAXLEN", "~", RedisArgument(retention.replyMaxLength), "*", field, RedisArgument(bytes: value)])
            commands.append(["PEXPIRE", key, streamTTL])
        }
        if !commands.isEmpty {
            let replies = try await redis.pipeline(commands).throwingFirstError()
            if let markersAt, let markers = replies[markersAt].array {
                for (position, marker) in zip(markerPositions, markers) where !marker.isNull { answeredAsync.append(position) }
            }
        }
        // The gateway stopped waiting for these (its marker): their state is kept the full day.
        let extended = answeredAsync.filter { batch[$0].1.respondAsync != true }
        if !extended.isEmpty {
            _ = try await redis.pipeline(extended.map { ["PEXPIRE", RedisArgument(operationKey(batch[$0].0.id)), ttl] })
        }
        // Answered with 202: the client is told by an `operation.completed` event. Its ID comes from
        // the operation's, so should the gateway raise it too (a race it settles), consumers dedupe.
        let bus = CommandBus(redis: redis, names: names, retention: retention)
        for position in answeredAsync.sorted() {
            let (reply, command) = batch[position]
            try await bus.publish(
                OperationCompleted.event(
                    for: reply.redacted(), subject: command.principal.subject, tenant: command.principal.tenant,
                    customerID: command.principal.customerID, createdAt: command.createdAt))
        }
        if let acknowledging, !acknowledged.isEmpty {
            try await redis.send(XACK(acknowledging.stream, group: acknowledging.group, ids: acknowledged))
        }
    }
}

/// An operation's stored state: the reply, and who may read it.
public struct OperationRecord: Sendable, Hashable, Codable {
    public var reply: Reply
    public var subject: String
    public var tenant: String
    /// The customer who asked, when a customer did (for `operation.completed` scoping).
    public var customerID: String?
}
