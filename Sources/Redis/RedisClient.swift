import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The Redis client the system uses: a few pipelined connections, reconnected with backoff.
///
/// Blocking reads (`XREADGROUP … BLOCK`) must not share a pipelined connection: give each blocking
/// loop its own client from ``makeDedicatedClient()``.
public final class RedisClient: Sendable, Service {
    public let configuration: RedisConfiguration
    let group: any EventLoopGroup
    let logger: Logger
    private let slots: [ConnectionSlot]
    private let next = Atomic<Int>(0)
    private let scriptHashes = Mutex<[String: String]>([:])
    private let closed = Atomic<Bool>(false)

    public init(
        configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "billing.redis")
    ) {
        self.configuration = configuration
        self.group = eventLoopGroup
        self.logger = logger
        // Each connection lives on one loop, spread over the group: a caller on a loop finds one there.
        self.slots = (0..<configuration.connectionCount).map { _ in
            ConnectionSlot(loop: eventLoopGroup.next(), configuration: configuration)
        }
    }

    /// A client with one connection of its own, for a blocking read loop; on `loop` when given
    /// (the loop the reading task runs on, see ``EventLoopTaskExecutor``).
    public func makeDedicatedClient(on loop: (any EventLoop)? = nil) -> RedisClient {
        var single = configuration
        single.connectionCount = 1
        return RedisClient(configuration: single, eventLoopGroup: loop ?? group, logger: logger)
    }

    /// Sends a typed command and decodes its reply.
    @discardableResult
    nonisolated(nonsending) public func send<Command: RedisCommand>(_ command: Command) async throws(RedisError) -> Command.Response {
        try await connection().send(command)
    }

    /// Sends two typed commands in one write on one connection; see ``RedisConnection/send(_:_:)``.
    nonisolated(nonsending) public func send<First: RedisCommand, Second: RedisCommand>(_ first: First, _ second: Second)
        async throws(RedisError) -> (First.Response, Second.Response)
    {
        try await connection().send(first, second)
    }

    /// Sends raw arguments (for commands without a typed wrapper).
    @discardableResult
    nonisolated(nonsending) public func execute(_ arguments: [RedisArgument]) async throws(RedisError) -> RESPValue {
        try await connection().execute(arguments)
    }

    /// Sends several commands in one write on one connection and returns their replies in order
    /// (error replies as `.error` values). In order, but not atomic: see ``RedisConnection/pipeline(_:timeout:)``.
    nonisolated(nonsending) public func pipeline(_ commands: [[RedisArgument]]) async throws(RedisError) -> [RESPValue] {
        try await connection().pipeline(commands)
    }

    /// Runs a Lua script by its SHA1, loading it once per server (and again after a `NOSCRIPT`).
    nonisolated(nonsending) public func eval(_ script: RedisScript, keys: [String] = [], arguments: [RedisArgument] = []) async throws(RedisError)
        -> RESPValue
    {
        let cached = scriptHashes.withLock { $0[script.source] }
        let sha: String
        if let cached { sha = cached } else { sha = try await load(script) }
        do throws(RedisError) {
            return try await send(EVALSHA(sha: sha, keys: keys, arguments: arguments))
        } catch where error.serverErrorPrefix == "NOSCRIPT" {
            // The server lost its script cache (restart, SCRIPT FLUSH, failover): load and run again.
            let reloaded = try await load(script)
            return try await send(EVALSHA(sha: reloaded, keys: keys, arguments: arguments))
        }
    }

    nonisolated(nonsending) private func load(_ script: RedisScript) async throws(RedisError) -> String {
        let sha = try await send(SCRIPT_LOAD(source: script.source))
        scriptHashes.withLock { $0[script.source] = sha }
        return sha
    }

    /// Closes every connection; later commands fail with `.shutdown`.
    public func shutdown() async {
        closed.store(true, ordering: .relaxed)
        for slot in slots { await slot.close() }
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    /// A connection on the caller's event loop when it runs on one that has some (see
    /// ``EventLoopTaskExecutor``: the command and its reply then never change thread); otherwise
    /// the next one round-robin.
    nonisolated(nonsending) private func connection() async throws(RedisError) -> RedisConnection {
        if closed.load(ordering: .relaxed) { throw RedisError(.shutdown, "the Redis client was shut down") }
        let turn = Int(UInt(bitPattern: next.add(1, ordering: .relaxed).oldValue) % UInt(slots.count))
        if slots.count > 1, let current = MultiThreadedEventLoopGroup.currentEventLoop {
            for step in 0..<slots.count {
                let slot = slots[(turn + step) % slots.count]
                if slot.loop === current { return try await slot.connection(client: self) }
            }
        }
        return try await slots[turn].connection(client: self)
    }
}

/// A Lua script run through ``RedisClient/eval(_:keys:arguments:)``.
public struct RedisScript: Sendable, Hashable {
    public let source: String
    public init(_ source: String) { self.source = source }
}

/// One pipelined connection of a client: performs what its ``ConnectionSlotStateMachine`` answers.
private final class ConnectionSlot: Sendable {
    /// The event loop this slot's connections live on.
    let loop: any EventLoop
    private let state: Mutex<ConnectionSlotStateMachine<RedisConnection, Task<RedisConnection, any Error>>>

    init(loop: any EventLoop, configuration: RedisConfiguration) {
        self.loop = loop
        self.state = Mutex(
            ConnectionSlotStateMachine(
                reconnectBackoff: configuration.reconnectBackoff, maxReconnectBackoff: configuration.maxReconnectBackoff))
    }

    nonisolated(nonsending) func connection(client: RedisClient) async throws(RedisError) -> RedisConnection {
        let action = state.withLock { machine in
            machine.acquire(now: ContinuousClock.now) { failures in connect(client: client, failures: failures) }
        }
        switch action {
        case .use(let connection):
            return connection
        case .fail(let error):
            throw error
        case .wait(let task):
            do {
                return try await task.value
            } catch let error as RedisError {
                throw error
            } catch {
                throw RedisError(.connectionFailed, "\(error)")
            }
        }
    }

    /// Starts a connect after `failures` failed ones; its outcome goes back to the state machine.
    private func connect(client: RedisClient, failures: Int) -> Task<RedisConnection, any Error> {
        Task { [self] in
            do {
                let connection = try await RedisConnection.connect(client.configuration, group: loop)
                if case .discard(let error) = state.withLock({ $0.connected(connection) }) {
                    await connection.close()
                    throw error
                }
                if failures > 0 {
                    client.logger.info("redis reconnected", metadata: ["host": "\(client.configuration.host)"])
                }
                return connection
            } catch {
                let redisError = (error as? RedisError) ?? RedisError(.connectionFailed, "\(error)")
                state.withLock { $0.connectFailed(redisError, now: ContinuousClock.now) }
                client.logger.warning(
                    "redis connect failed", metadata: ["error": "\(redisError.message)", "attempt": "\(failures + 1)"])
                throw redisError
            }
        }
    }

    func close() async {
        switch state.withLock({ $0.close() }) {
        case .closeConnection(let connection): await connection.close()
        case .closeWhenConnected(let task): if let connection = try? await task.value { await connection.close() }
        case .nothing: break
        }
    }
}

extension RedisClient {
    /// Every key that starts with `prefix` (SCAN; never KEYS, which blocks the server). For tests,
    /// benchmarks and tooling.
    public func keys(prefix: String) async throws(RedisError) -> [String] {
        var pattern = ""
        for character in prefix {
            if "*?[]\\".contains(character) { pattern.append("\\") }
            pattern.append(character)
        }
        pattern += "*"
        var cursor = "0"
        var found: [String] = []
        repeat {
            let reply = try await execute(["SCAN", RedisArgument(cursor), "MATCH", RedisArgument(pattern), "COUNT", "1000"])
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string else {
                throw RedisError(.unexpectedReply, "SCAN returned \(reply)")
            }
            found += parts[1].array?.compactMap(\.string) ?? []
            cursor = next
        } while cursor != "0"
        return found
    }

    /// Deletes every key that starts with `prefix`, in batches; returns how many were deleted.
    @discardableResult
    public func deleteKeys(prefix: String) async throws(RedisError) -> Int {
        let found = try await keys(prefix: prefix)
        var deleted = 0
        var start = 0
        while start < found.count {
            let batch = Array(found[start..<min(start + 1000, found.count)])
            deleted += try await send(DEL(keys: batch))
            start += 1000
        }
        return deleted
    }
}
