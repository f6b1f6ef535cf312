import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A task executor that runs async work on one NIO event loop.
///
/// A task that prefers it (`withTaskExecutorPreference`), and whose Redis connection lives on the
/// same loop (``RedisClient`` picks the connection on the caller's loop), sends a command and
/// resumes on its reply without changing thread: no wake-up of another thread per command. That
/// switching was about a third of a round trip's CPU (perf: the kernel's task switch and futex
/// wake-ups between NIO's loops and the cooperative pool).
///
/// Long-lived loops (a consumer, the reply loop) take the next loop in turn with ``next()``; a
/// gateway request stays on its connection's loop (``on(_:)``). Work under it must not block:
/// blocking calls (libmongoc, scrypt, DNS) go to thread pools, as they must anyway.
public final class EventLoopTaskExecutor: TaskExecutor {
    /// The loop every job of this executor runs on.
    public let loop: any EventLoop

    private init(loop: any EventLoop) {
        self.loop = loop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    /// One executor per loop of NIO's shared group (the loops Redis and Hummingbird use).
    public static let shared: [EventLoopTaskExecutor] = MultiThreadedEventLoopGroup.singleton.makeIterator().map {
        EventLoopTaskExecutor(loop: $0)
    }

    private static let turn = Atomic<Int>(0)

    /// The shared executors in turn: long-lived loops spread over the event loops.
    public static func next() -> EventLoopTaskExecutor {
        shared[Int(UInt(bitPattern: turn.add(1, ordering: .relaxed).oldValue) % UInt(shared.count))]
    }

    /// The shared executor of `loop`; nil for a loop of another group (a test's embedded loop,
    /// which runs nothing by itself): work there keeps the default executor.
    public static func on(_ loop: any EventLoop) -> EventLoopTaskExecutor? {
        shared.first { $0.loop === loop }
    }
}

/// A task executor over all of NIO's shared loops that keeps a job on the loop that woke it: a
/// job enqueued from an event-loop thread (a channel read, a Redis reply) runs on that loop; one
/// enqueued from elsewhere goes to the next loop. An HTTP server run under it handles each
/// connection on the connection's own loop, without a thread switch per read and write.
public final class StickyEventLoopExecutor: TaskExecutor {
    private let group: any EventLoopGroup

    private init(group: any EventLoopGroup) {
        self.group = group
    }

    public static let shared = StickyEventLoopExecutor(group: MultiThreadedEventLoopGroup.singleton)

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let loop = MultiThreadedEventLoopGroup.currentEventLoop ?? group.next()
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// Runs a service, and every task it starts, under ``StickyEventLoopExecutor``.
public struct OnEventLoops<Inner: Service>: Service {
    public let inner: Inner

    public init(_ inner: Inner) { self.inner = inner }

    public func run() async throws {
        try await withTaskExecutorPreference(StickyEventLoopExecutor.shared) { try await inner.run() }
    }
}
