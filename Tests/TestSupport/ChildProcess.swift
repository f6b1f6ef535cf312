import Foundation

/// Runs child processes from async tests without blocking Swift's cooperative pool: that pool has
/// one thread per core (two here), so a blocking read of a child's output or a wait for its exit
/// on it stalls every task of the test process meanwhile, and anything the child waits for from
/// the tests. The blocking calls run on threads of their own.
public enum ChildProcess {
    /// What a finished child left: its exit status and everything it wrote.
    public struct Finished: Sendable {
        public var status: Int32
        public var output: Data
        public var errors: Data
    }

    /// Starts `executable` with `arguments` (and `environment`, when given), reads both of its
    /// outputs to the end, waits for it to exit.
    public static func run(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil) async throws
        -> Finished
    {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        async let output = onThread { out.fileHandleForReading.readDataToEndOfFile() }
        async let errors = onThread { err.fileHandleForReading.readDataToEndOfFile() }
        let (o, e) = await (output, errors)
        await waitForExit(process)
        return Finished(status: process.terminationStatus, output: o, errors: e)
    }

    /// Waits for `process` to exit (polling: Foundation reaps it and records the status).
    public static func waitForExit(_ process: Process) async {
        while process.isRunning { try? await Task.sleep(for: .milliseconds(5)) }
    }

    /// Runs a blocking `body` on a new thread and resumes with its result.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }
}
