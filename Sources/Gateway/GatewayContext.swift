import Foundation
import Hummingbird
import Messaging
import NIOCore
import Synchronization

/// Per-request facts the outer middleware needs after inner layers ran (contexts are values, so
/// inner layers write here instead).
public final class RequestState: Sendable {
    private struct Values {
        var requestID = ""
        var route = "unmatched"
        var principal: Principal?
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
    public var replyTimedOut: Bool {
        get { values.withLock { $0.replyTimedOut } }
        set { values.withLock { $0.replyTimedOut = newValue } }
    }
}

/// The gateway's request context: Hummingbird's core storage, the peer address, and the shared state box.
public struct GatewayContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    public let state = RequestState()

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// Bodies are read by the gateway itself, against its own limit.
    public var maxUploadSize: Int { Int.max }
}
