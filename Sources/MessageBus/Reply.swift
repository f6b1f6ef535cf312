import Foundation

/// An RFC 9457 problem, as workers report failures and the gateway renders them.
public struct Problem: Sendable, Hashable, Codable, Error {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String
    public var code: String
    public var param: String?
    /// Seconds before a retry can succeed, for a 429 or 503: the gateway sends it as `Retry-After`.
    public var retryAfter: Int?

    public init(status: Int, code: String, title: String, detail: String, param: String? = nil, retryAfter: Int? = nil) {
        self.type = "https://billing.dev/problems/\(code)"
        self.title = title
        self.status = status
        self.detail = detail
        self.code = code
        self.param = param
        self.retryAfter = retryAfter
    }

    public static func notFound(_ what: String) -> Problem {
        Problem(status: 404, code: "not_found", title: "Not found", detail: "\(what) does not exist")
    }

    public static func invalid(_ param: String, _ detail: String) -> Problem {
        Problem(status: 422, code: "invalid_field", title: "Invalid field", detail: detail, param: param)
    }

    public static func deadlineExceeded(_ id: String) -> Problem {
        Problem(
            status: 504, code: "deadline_exceeded", title: "Deadline exceeded",
            detail: "command \(id) reached its deadline before a worker ran it; it was not executed")
    }
}

/// A worker's answer to one command, sent to `reply_to` and kept as the operation's state.
public struct Reply: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Codable {
        case succeeded, failed
    }

    /// The command's (and operation's) ID.
    public var id: String
    public var correlationID: String
    public var status: Status
    public var httpStatus: Int
    public var result: JSONValue?
    public var error: Problem?
    public var completedAt: Date
    /// Top-level members of `result` that are secrets shown once (tokens, API keys, client secrets):
    /// they reach the waiting gateway, but every stored copy (ledger, operation state, idempotency
    /// record) holds ``redacted()`` instead.
    public var secretFields: [String]?

    public init(
        id: String, correlationID: String, status: Status, httpStatus: Int, result: JSONValue? = nil,
        error: Problem? = nil, completedAt: Date, secretFields: [String]? = nil
    ) {
        self.id = id
        self.correlationID = correlationID
        self.status = status
        self.httpStatus = httpStatus
        self.result = result
        self.error = error
        self.completedAt = completedAt
        self.secretFields = secretFields
    }

    public static func success(
        to command: Envelope, status: Int = 200, result: JSONValue, at: Date, secretFields: [String] = []
    ) -> Reply {
        Reply(
            id: command.id, correlationID: command.correlationID, status: .succeeded, httpStatus: status, result: result,
            completedAt: at, secretFields: secretFields.isEmpty ? nil : secretFields)
    }

    /// The marker a stored copy holds in place of a secret.
    public static let redactedMarker = "[redacted: shown once]"

    /// This reply as it may be stored: each secret field's value replaced by ``redactedMarker``.
    public func redacted() -> Reply {
        guard let secretFields, case .object(var members)? = result else { return self }
        for field in secretFields where members[field] != nil { members[field] = .string(Self.redactedMarker) }
        var copy = self
        copy.result = .object(members)
        return copy
    }

    /// This reply with its result left out (a stored operation state larger than its cap): the
    /// status stays; `result` says how large it was and where the resource can be read.
    public func omittingResult(bytes: Int, limit: Int) -> Reply {
        var copy = self
        copy.result = .object([
            "object": .string("result_omitted"), "bytes": .number(String(bytes)),
            "detail": .string(
                "the result (\(bytes) bytes) is larger than the \(limit) bytes an operation keeps; read the resource itself"),
        ])
        return copy
    }

    public static func failure(to command: Envelope, _ problem: Problem, at: Date) -> Reply {
        Reply(
            id: command.id, correlationID: command.correlationID, status: .failed, httpStatus: problem.status,
            error: problem, completedAt: at)
    }
}

/// An error with a client-facing answer: the worker runtime answers any error that conforms with
/// its problem (and records the refusal), so a rule's error type is mapped to a problem once, where
/// it is declared, not at every call that may throw it.
public protocol ProblemConvertible: Error {
    var problem: Problem { get }
}

extension Problem: ProblemConvertible {
    public var problem: Problem { self }
}
