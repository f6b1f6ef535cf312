import Foundation

/// Where and how to reach Redis, usually parsed from a `redis://[[user]:password@]host:port/db` URL.
public struct RedisConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var database: Int
    /// How long a TCP connect may take.
    public var connectTimeout: Duration
    /// How long a non-blocking command may wait for its reply.
    public var commandTimeout: Duration
    /// Pipelined connections a client spreads commands over.
    public var connectionCount: Int
    /// First wait after a failed connect; doubles on every failure up to `maxReconnectBackoff`.
    public var reconnectBackoff: Duration
    public var maxReconnectBackoff: Duration

    public init(
        host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: String? = nil,
        database: Int = 0, connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(5),
        connectionCount: Int = 2, reconnectBackoff: Duration = .milliseconds(50),
        maxReconnectBackoff: Duration = .seconds(2)
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.connectionCount = max(1, connectionCount)
        self.reconnectBackoff = reconnectBackoff
        self.maxReconnectBackoff = maxReconnectBackoff
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]`.
    public init(url: String) throws(RedisError) {
        guard let components = URLComponents(string: url), components.scheme == "redis" else {
            throw RedisError(.invalidURL, "expected redis://[[user]:password@]host:port/db, got '\(Self.redacted(url))'")
        }
        guard let host = components.host, !host.isEmpty else {
            throw RedisError(.invalidURL, "the Redis URL '\(Self.redacted(url))' has no host")
        }
        var database = 0
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if !path.isEmpty {
            guard let db = Int(path), db >= 0 else {
                throw RedisError(.invalidURL, "the Redis URL's database must be a number ≥ 0, got '\(path)'")
            }
            database = db
        }
        let user = components.user.flatMap { $0.isEmpty ? nil : $0.removingPercentEncoding ?? $0 }
        let password = components.password.flatMap { $0.isEmpty ? nil : $0.removingPercentEncoding ?? $0 }
        self.init(host: host, port: components.port ?? 6379, username: user, password: password, database: database)
    }

    /// The URL with any password masked, for logs.
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? "redis://***"
    }
}
