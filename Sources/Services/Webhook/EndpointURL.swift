import Foundation
import MessageBus
import NIOCore
import NIOPosix

/// Where webhooks may be sent: `https` only, and never to a private, loopback, link-local or
/// otherwise internal address (`169.254.169.254`, `*.internal` …): a name is checked when the
/// endpoint is created and its resolved address again at every delivery (against DNS rebinding).
/// The one exception is development mode's loopback hosts (`http` allowed), so local receivers
/// work; every other destination is screened in every mode.
struct EndpointURLPolicy: Sendable {
    let development: Bool

    /// A URL fit to store, or a 422 naming `url`.
    func validate(_ text: String) throws -> URL {
        let text = text.trimmingCharacters(in: .whitespaces)
        guard text.count <= 2048, let components = URLComponents(string: text), let url = components.url,
            let scheme = components.scheme?.lowercased(), let host = components.host, !host.isEmpty
        else {
            throw Problem.invalid("url", "must be an absolute URL such as https://example.com/webhooks")
        }
        guard components.user == nil, components.password == nil else {
            throw Problem.invalid("url", "must not carry credentials (user:password@)")
        }
        guard scheme == "https" || scheme == "http" else { throw Problem.invalid("url", "must use https") }
        let bareHost = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        if development, Self.isLoopbackName(bareHost) { return url }
        guard scheme == "https" else {
            throw Problem.invalid(
                "url", development ? "must use https (http is allowed only to loopback hosts in development mode)" : "must use https")
        }
        if Self.isLoopbackName(bareHost) || bareHost.hasSuffix(".local") || bareHost.hasSuffix(".internal")
            || bareHost.hasSuffix(".localhost") || !bareHost.contains(".") && !bareHost.contains(":")
        {
            throw Problem.invalid("url", "must name a public host, not '\(bareHost.prefix(100))'")
        }
        if let address = try? SocketAddress(ipAddress: bareHost, port: 443), !Self.isPublic(address) {
            throw Problem.invalid("url", "must not point at a private, loopback or link-local address")
        }
        return url
    }

    static func isLoopbackName(_ host: String) -> Bool {
        if host == "localhost" || host.hasSuffix(".localhost") { return true }
        guard let address = try? SocketAddress(ipAddress: host, port: 0) else { return false }
        return isLoopback(address)
    }

    static func bytes(_ address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let a): withUnsafeBytes(of: a.address.sin_addr) { Array($0) }
        case .v6(let a): withUnsafeBytes(of: a.address.sin6_addr) { Array($0) }
        default: nil
        }
    }

    static func isLoopback(_ address: SocketAddress) -> Bool {
        guard let b = bytes(address) else { return false }
        if b.count == 4 { return b[0] == 127 }
        if b.count == 16 {
            if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return true }
            if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff { return b[12] == 127 }
        }
        return false
    }

    /// Whether an address is reachable on the public internet (not private, loopback, link-local,
    /// shared, multicast, reserved, or an IPv4-mapped/IPv6 form of one).
    static func isPublic(_ address: SocketAddress) -> Bool {
        guard let b = bytes(address) else { return false }
        if b.count == 4 { return isPublicV4(b) }
        guard b.count == 16 else { return false }
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff { return isPublicV4(Array(b[12..<16])) }
        if b[0..<12].allSatisfy({ $0 == 0 }) { return false }  // ::, ::1, IPv4-compatible
        if b[0] == 0xff { return false }  // multicast
        if b[0] & 0xfe == 0xfc { return false }  // fc00::/7 unique local
        if b[0] == 0xfe && b[1] & 0xc0 == 0x80 { return false }  // fe80::/10 link-local
        if b[0] == 0xfe && b[1] & 0xc0 == 0xc0 { return false }  // fec0::/10 site-local (deprecated)
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8 { return false }  // documentation
        if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b { return false }  // NAT64 (wraps IPv4)
        return true
    }

    static func isPublicV4(_ b: [UInt8]) -> Bool {
        switch (b[0], b[1]) {
        case (0, _), (10, _), (127, _): return false
        case (100, 64...127): return false  // shared address space (CGNAT)
        case (169, 254): return false  // link-local (cloud metadata lives here)
        case (172, 16...31), (192, 168): return false
        case (192, 0) where b[2] == 0 || b[2] == 2: return false
        case (198, 18...19), (198, 51), (203, 0): return false
        case (224...255, _): return false  // multicast, reserved, broadcast
        default: return true
        }
    }

    /// Resolves `host` off the event loops and refuses a non-public address; returns the address
    /// to connect to (pinned, so a second lookup cannot swap it). nil for a loopback host in
    /// development mode: delivered as named.
    func screenedAddress(host: String, port: Int) async throws -> String? {
        if development, Self.isLoopbackName(host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()) {
            return nil
        }
        let address = try await NIOThreadPool.singleton.runIfActive {
            try SocketAddress.makeAddressResolvingHost(host, port: port)
        }
        guard Self.isPublic(address), let ip = address.ipAddress else {
            throw DestinationRefused(host: host)
        }
        return ip
    }

    struct DestinationRefused: Error, CustomStringConvertible {
        var host: String
        var description: String { "\(host) resolves to a private, loopback or link-local address; not delivered" }
    }
}
