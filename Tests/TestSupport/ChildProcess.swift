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

    /// Stops a worker the way its supervisor would: SIGTERM (it finishes what it holds and exits),
    /// SIGKILL only if it is still running after `grace`. A harness that SIGKILLed its workers left
    /// whatever transaction they had open on the database server, which keeps it until its 60 s
    /// lifetime ends; the in-memory test server then runs out of cache under the other tests'
    /// writes (`WT_CACHE_FULL`) and stalls them.
    public static func stop(_ process: Process, grace: Duration = .seconds(10)) async {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        await waitForExit(process)
    }

    /// Runs a blocking `body` on a new thread and resumes with its result.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }
}
