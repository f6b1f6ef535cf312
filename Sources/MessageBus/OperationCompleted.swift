import Foundation

/// `operation.completed`: raised on `billing:events` for every request the gateway answered with
/// 202, so an asynchronous client can be told by webhook instead of polling.
///
/// The gateway marks such an operation (`<prefix>:op:{<id>}:async`): before sending on
/// `Prefer: respond-async`, after its wait ran out otherwise. The worker reads the markers after
/// it stored the results (in order, on one connection), and the gateway's marking script (atomic)
/// sets the marker and reads the result; so one of the two sides always sees the other and raises
/// the event (both may). The event's ID is derived from the operation's, so a second raise (that
/// race, or a redelivered command) is deduplicated by consumers.
public enum OperationCompleted {
    public static let eventType = EventType("operation.completed")
    public static var type: String { eventType.name }

    /// The marker the gateway sets on an operation it answered with 202.
    public static func asyncMarkerKey(_ names: StreamNames, _ id: String) -> String { names.operation(id) + ":async" }

    /// The event's ID: the operation's UUID with its random tail flipped (the same operation always
    /// gives the same event, and its time-ordered head is kept).
    public static func eventID(for operationID: String) -> String {
        let hex = Array(operationID.utf8).filter { $0 != UInt8(ascii: "-") }
        guard hex.count == 32 else { return MessageID.make() }
        var bytes: [UInt8] = []
        for i in stride(from: 0, to: 32, by: 2) {
            guard let high = MessageID.hexValue(hex[i]), let low = MessageID.hexValue(hex[i + 1]) else {
                return MessageID.make()
            }
            bytes.append(high << 4 | low)
        }
        for i in 10..<16 { bytes[i] ^= 0x5A }
        return MessageID.format(bytes)
    }

    /// The event for a completed operation: which operation, how it ended, and the resource it
    /// made or changed, never the result itself. Every `events:read` key and `*` endpoint of the
    /// tenant receives it, while the result belongs to whoever asked (`GET /v1/operations/{id}`
    /// shows it to them and to the tenant's admins).
    public static func event(for reply: Reply, subject: String, tenant: String, customerID: String?, createdAt: Date?)
        -> Envelope
    {
        var payload: [String: JSONValue] = [
            "id": .string(reply.id), "object": .string("operation"), "status": .string(reply.status.rawValue),
            "http_status": .number(String(reply.httpStatus)),
            "resource_id": reply.result?["id"]?.stringValue.map(JSONValue.string) ?? .null,
            "resource_object": reply.result?["object"]?.stringValue.map(JSONValue.string) ?? .null,
            "error_code": reply.error.map { .string($0.code) } ?? .null,
            "created_at": (createdAt ?? MessageID.timestamp(of: reply.id)).map { .string(MessageCoding.formatTimestamp($0)) }
                ?? .null,
            "completed_at": .string(MessageCoding.formatTimestamp(reply.completedAt)),
        ]
        if let customerID { payload["customer_id"] = .string(customerID) }
        return Envelope(
            id: eventID(for: reply.id), type: type, correlationID: reply.correlationID, causationID: reply.id,
            principal: Principal(subject: subject, role: .system, tenant: tenant, customerID: customerID),
            payload: .object(payload), createdAt: reply.completedAt)
    }
}
