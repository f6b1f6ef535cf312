import Foundation
import Redis
import TestSupport
import Testing

/// The Redis that scripts/test started, and helpers to isolate each test by key prefix.
enum RedisTestEnvironment {
    static func url() throws -> String { try TestServers.url("BILLING_TEST_REDIS_URL") }

    static func client(connections: Int = 2, commandTimeout: Duration = .seconds(5)) throws -> RedisClient {
        var configuration = try RedisConfiguration(url: url())
        configuration.connectionCount = connections
        configuration.commandTimeout = commandTimeout
        return RedisClient(configuration: configuration)
    }

    /// A key prefix no other test uses.
    static func prefix(_ name: String = #function) -> String {
        "test:\(name.prefix(while: { $0 != "(" })):\(UUID().uuidString.prefix(8)):"
    }
}

enum TestSetupError: Error {
    case processFailed(String)
}

/// A redis-server this test starts and kills itself (for fault tests).
final class RedisServerProcess: @unchecked Sendable {
    let port: Int
    let directory: URL
    private let extraArguments: [String]
    private var process: Process?

    init(port: Int? = nil, extraArguments: [String] = []) throws {
        self.port = try port ?? FreePort.find()
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-fault-\(UUID().uuidString)")
        self.extraArguments = extraArguments
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    var url: String { "redis://127.0.0.1:\(port)/0" }

    func start() async throws {
        let binary = ProcessInfo.processInfo.environment["BILLING_TEST_REDIS_SERVER"] ?? "/usr/bin/redis-server"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments =
            ["--bind", "127.0.0.1", "--port", "\(port)", "--dir", directory.path, "--save", "", "--appendonly", "no"]
            + extraArguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        for _ in 0..<100 {
            if FreePort.isListening(port) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSetupError.processFailed("redis-server did not listen on \(port)")
    }

    /// SIGKILL: the server dies without closing anything cleanly.
    func kill() {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    deinit {
        if let process, process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }
}

enum FreePort {
    static func find() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError.processFailed("socket() failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw TestSetupError.processFailed("bind() failed") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func isListening(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}
