import Crypto
import Foundation
import MessageBus
import Redis

/// Failed sign-ins counted in Redis per account *and client IP pair*, and per client IP; past the
/// threshold the pair (or the IP) is locked for a time that doubles with each further failure. A
/// stranger failing against a known account locks only its own address out of that account: the
/// owner, from its own address, still signs in (behind a load balancer the address is the client's,
/// taken from `X-Forwarded-For` by the trusted-proxy rule, never the balancer's).
struct LoginThrottle: Sendable {
    let redis: RedisClient
    let configuration: AuthConfiguration

    // KEYS: failure counter, lock. ARGV: window ms, threshold, base lock ms, max lock ms.
    // Returns the lock set now in ms (0 when under the threshold).
    static let fail = RedisScript(
        """
        local n = redis.call('INCR', KEYS[1])
        if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        local threshold = tonumber(ARGV[2])
        if n < threshold then return 0 end
        local lock = math.min(tonumber(ARGV[3]) * (2 ^ (n - threshold)), tonumber(ARGV[4]))
        redis.call('SET', KEYS[2], n, 'PX', math.floor(lock))
        redis.call('PEXPIRE', KEYS[1], math.max(tonumber(ARGV[1]), math.floor(lock) + tonumber(ARGV[1])))
        return math.floor(lock)
        """)

    private func account(_ tenant: String, _ email: String, _ clientIP: String?) -> String {
        // {…}: the counter and its lock share a hash slot (one script touches both).
        let pair = Secrets.sha256Hex("\(email)|\(clientIP ?? "")").prefix(32)
        return "\(configuration.names.prefix):auth:{acct:\(tenant):\(pair)}"
    }
    private func ip(_ ip: String) -> String { "\(configuration.names.prefix):auth:{ip:\(ip)}" }

    /// Seconds until the account or the IP may try again; nil when neither is locked.
    func lockedFor(tenant: String, email: String, ip clientIP: String?) async throws -> Int? {
        var keys = [account(tenant, email, clientIP) + ":lock"]
        if let clientIP { keys.append(ip(clientIP) + ":lock") }
        var longest = 0
        for key in keys { longest = max(longest, try await redis.send(PTTL(key))) }
        return longest > 0 ? Int((longest + 999) / 1000) : nil
    }

    /// Counts a failure; returns the lock it started, in seconds (0 when none).
    @discardableResult
    func recordFailure(tenant: String, email: String, ip clientIP: String?) async throws -> Int {
        let window = Int(configuration.failureWindow * 1000)
        let base = Int(configuration.lockoutBase * 1000)
        let maximum = Int(configuration.lockoutMax * 1000)
        var lock = 0
        var targets = [(account(tenant, email, clientIP), configuration.lockoutThreshold)]
        if let clientIP {
            targets.append((ip(clientIP), configuration.lockoutThreshold * configuration.ipThresholdFactor))
        }
        for (key, threshold) in targets {
            let result = try await redis.eval(
                Self.fail, keys: [key + ":failures", key + ":lock"],
                arguments: [RedisArgument(window), RedisArgument(threshold), RedisArgument(base), RedisArgument(maximum)])
            if case .integer(let ms) = result { lock = max(lock, Int(ms)) }
        }
        return Int((lock + 999) / 1000)
    }

    /// A successful sign-in clears the pair's count (not the IP's).
    func recordSuccess(tenant: String, email: String, ip clientIP: String?) async throws {
        let key = account(tenant, email, clientIP)
        _ = try await redis.send(DEL(key + ":failures"))
    }
}
