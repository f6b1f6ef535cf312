import Foundation
import MessageBus
import Redis

/// What the gateway writes at `<prefix>:op:{<id>}` (SET NX, 24 h) before it sends a command; the
/// worker's ``OperationRecord`` replaces it when the command completes.
struct PendingOperation: Codable, Sendable {
    var id: String
    var status = "pending"
    var type: String
    var subject: String
    var tenant: String
    var createdAt: Date

    init(id: String, type: String, subject: String, tenant: String, createdAt: Date) {
        self.id = id
        self.type = type
        self.subject = subject
        self.tenant = tenant
        self.createdAt = createdAt
    }

    /// The JSON written to Redis for every command (the JSON writer, not JSONEncoder: this is per request).
    var json: [UInt8] {
        Array(
            JSONWriter.data(
                .object([
                    "id": .string(id), "status": .string(status), "type": .string(type), "subject": .string(subject),
                    "tenant": .string(tenant), "created_at": .string(MessageCoding.formatTimestamp(createdAt)),
                ])))
    }
}

/// Reads operation state for `GET /v1/operations/{id}`.
struct OperationStore: Sendable {
    let redis: RedisClient
    let names: StreamNames

    /// Same key as ``ReplyPublisher/operationKey(_:)``.
    static func key(_ names: StreamNames, _ id: String) -> String { names.operation(id) }

    /// The creation time of an operation whose ID is not a UUIDv7 (those of an `Idempotency-Key`),
    /// kept apart because the worker's record replaces the pending one.
    static func createdAtKey(_ names: StreamNames, _ id: String) -> String { "\(key(names, id)):created_at" }

    /// The operation as the API shows it, or nil when it does not exist or `principal` may not see it
    /// (only its subject in the same tenant, or an admin of that tenant).
    func read(_ id: String, for principal: Principal) async throws(RedisError) -> JSONValue? {
        guard id.count <= 64, let data = try await redis.send(GET(Self.key(names, id))) else { return nil }
        if let record = try? MessageCoding.decode(OperationRecord.self, from: Data(data)) {
            guard Self.visible(subject: record.subject, tenant: record.tenant, to: principal) else { return nil }
            let reply = record.reply
            let createdAt = try await createdAt(of: id)
            return .object([
                "id": .string(id), "object": .string("operation"), "status": .string(reply.status.rawValue),
                "http_status": .number(String(reply.httpStatus)), "result": reply.result ?? .null,
                "error": reply.error.map(Self.problemJSON) ?? .null, "created_at": createdAt,
                "completed_at": .string(MessageCoding.formatTimestamp(reply.completedAt)),
            ])
        }
        if let pending = try? MessageCoding.decode(PendingOperation.self, from: Data(data)) {
            guard Self.visible(subject: pending.subject, tenant: pending.tenant, to: principal) else { return nil }
            return .object([
                "id": .string(id), "object": .string("operation"), "status": .string("pending"), "http_status": .null,
                "result": .null, "error": .null, "created_at": .string(MessageCoding.formatTimestamp(pending.createdAt)),
                "completed_at": .null,
            ])
        }
        return nil
    }

    /// From a UUIDv7 itself, else from ``createdAtKey(_:_:)``.
    private func createdAt(of id: String) async throws(RedisError) -> JSONValue {
        if let date = MessageID.timestamp(of: id) { return .string(MessageCoding.formatTimestamp(date)) }
        guard let stored = try await redis.send(GET(Self.createdAtKey(names, id))) else { return .null }
        return .string(String(decoding: stored, as: UTF8.self))
    }

    static func visible(subject: String, tenant: String, to principal: Principal) -> Bool {
        guard principal.tenant == tenant else { return false }
        return principal.role == .admin || principal.subject == subject
    }

    static func problemJSON(_ problem: Problem) -> JSONValue {
        var object: [String: JSONValue] = [
            "type": .string(problem.type), "title": .string(problem.title), "status": .number(String(problem.status)),
            "detail": .string(problem.detail), "code": .string(problem.code),
        ]
        if let param = problem.param { object["param"] = .string(param) }
        return .object(object)
    }
}
