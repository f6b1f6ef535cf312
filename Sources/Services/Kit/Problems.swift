import MessageBus

extension Problem {
    /// 409: the request is valid but conflicts with the current state (`email_taken`, `plan_in_use` …).
    public static func conflict(_ code: String, _ detail: String, param: String? = nil) -> Problem {
        Problem(status: 409, code: code, title: "Conflict", detail: detail, param: param)
    }

    /// 403: the principal is known but its role may not do this. Never used to hide another
    /// customer's object: that is a 404 (``Access``).
    public static func forbidden(_ detail: String, param: String? = nil) -> Problem {
        Problem(status: 403, code: "forbidden", title: "Forbidden", detail: detail, param: param)
    }

    /// 422 for a field the command does not take.
    public static func unknownField(_ param: String) -> Problem {
        .invalid(param, "\(param) is not a known field")
    }
}
