/// An error from the Redis client, with an extensible code and the server's text when there is one.
public struct RedisError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of failure this is; callers switch on it.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The URL given could not be parsed.
        public static let invalidURL = Code("invalidURL")
        /// No connection could be made (refused, unreachable, DNS, AUTH or SELECT failed).
        public static let connectionFailed = Code("connectionFailed")
        /// The connection closed while the command was in flight.
        public static let connectionClosed = Code("connectionClosed")
        /// The client is backing off after failed connects and did not try again yet.
        public static let unavailable = Code("unavailable")
        /// The server did not answer within the command timeout.
        public static let timeout = Code("timeout")
        /// The server answered with an error reply (`-ERR …`, `-NOSCRIPT …`, `-BUSYGROUP …`).
        public static let server = Code("server")
        /// The reply did not have the shape the command expects.
        public static let unexpectedReply = Code("unexpectedReply")
        /// The bytes on the wire were not valid RESP.
        public static let protocolError = Code("protocolError")
        /// The client was shut down.
        public static let shutdown = Code("shutdown")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The first word of a server error (`NOSCRIPT`, `BUSYGROUP`, `WRONGTYPE`, `ERR`), if any.
    public var serverErrorPrefix: String? {
        guard code == .server else { return nil }
        return message.split(separator: " ", maxSplits: 1).first.map(String.init)
    }

    public var description: String { "RedisError.\(code): \(message)" }
}
