import Foundation
import Hummingbird
import MessageBus
import NIOCore
import Redis
import Synchronization

/// Per-request facts the outer middleware needs after inner layers ran (contexts are values, so
/// inner layers write here instead).
public final class RequestState: Sendable {
    private struct Values {
        var requestID = ""
        var route = "unmatched"
        var principal: Principal?
        var revocation: RevocationCheck?
        var rateLimited = false
        var replyTimedOut = false
    }
    private let values = Mutex(Values())

    public init() {}

    public var requestID: String {
        get { values.withLock { $0.requestID } }
        set { values.withLock { $0.requestID = newValue } }
    }
    public var route: String {
        get { values.withLock { $0.route } }
        set { values.withLock { $0.route = newValue } }
    }
    public var principal: Principal? {
        get { values.withLock { $0.principal } }
        set { values.withLock { $0.principal = newValue } }
    }
    /// What the rate limit's round trip checks so the principal's credential still stands.
    public var revocation: RevocationCheck? {
        get { values.withLock { $0.revocation } }
        set { values.withLock { $0.revocation = newValue } }
    }
    public var replyTimedOut: Bool {
        get { values.withLock { $0.replyTimedOut } }
        set { values.withLock { $0.replyTimedOut = newValue } }
    }
}

/// The gateway's request context: Hummingbird's core storage, the peer address, and the shared state box.
public struct GatewayContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The event loop of the request's connection: the request is handled there (``LoopPinnedResponder``).
    public let eventLoop: any EventLoop
    public let state = RequestState()

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.eventLoop = source.channel.eventLoop
    }

    /// Bodies are read by the gateway itself, against its own limit.
    public var maxUploadSize: Int { Int.max }
}

/// Handles each request on its connection's event loop (see `EventLoopTaskExecutor`): Redis
/// commands then go out on the connection that lives there and resume there, instead of crossing
/// between the cooperative pool and the loops at every command.
struct LoopPinnedResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context == GatewayContext {
    let inner: Inner

    func respond(to request: Request, context: GatewayContext) async throws -> Response {
        try await withTaskExecutorPreference(EventLoopTaskExecutor.on(context.eventLoop)) {
            try await inner.respond(to: request, context: context)
        }
    }
}
