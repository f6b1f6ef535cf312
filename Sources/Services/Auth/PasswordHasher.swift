import Crypto
import Foundation
import _CryptoExtras

/// A password hash as stored: the scrypt parameters travel with it, so they can be raised later
/// (a login with an older hash rehashes at the current parameters).
public struct PasswordHash: Codable, Sendable, Hashable {
    public var algorithm: String
    /// log2 of scrypt's N (cost); r block size; p parallelism.
    public var logN: Int
    public var r: Int
    public var p: Int
    public var salt: String
    public var hash: String
}

/// scrypt (memory-hard) password hashing with a per-user random salt.
public struct PasswordHasher: Sendable {
    /// N = 2^logN; the floor is 2^15 (32 MiB with r = 8).
    public var logN: Int
    public var r: Int
    public var p: Int

    public static let minimumLogN = 15

    public init(logN: Int = 15, r: Int = 8, p: Int = 1) {
        self.logN = max(logN, Self.minimumLogN)
        self.r = r
        self.p = p
    }

    /// Slow on purpose (tens of milliseconds): call it off the cooperative pool.
    public func hash(_ password: String) throws -> PasswordHash {
        let salt = SymmetricKey(size: .bits128).withUnsafeBytes { Data($0) }
        let derived = try Self.derive(password, salt: salt, logN: logN, r: r, p: p)
        return PasswordHash(
            algorithm: "scrypt", logN: logN, r: r, p: p, salt: salt.base64EncodedString(),
            hash: derived.base64EncodedString())
    }

    /// Constant-time check of `password` against `stored`.
    public func verify(_ password: String, against stored: PasswordHash) throws -> Bool {
        guard stored.algorithm == "scrypt", let salt = Data(base64Encoded: stored.salt),
            let expected = Data(base64Encoded: stored.hash)
        else { return false }
        let derived = try Self.derive(password, salt: salt, logN: stored.logN, r: stored.r, p: stored.p)
        return ConstantTime.equal(derived, expected)
    }

    /// Whether `stored` was made with weaker parameters than these (rehash on the next login).
    public func needsRehash(_ stored: PasswordHash) -> Bool {
        stored.logN < logN || stored.r < r || stored.p < p
    }

    static func derive(_ password: String, salt: Data, logN: Int, r: Int, p: Int) throws -> Data {
        let key = try KDF.Scrypt.deriveKey(
            from: Array(password.utf8), salt: salt, outputByteCount: 32, rounds: 1 << logN, blockSize: r,
            parallelism: p)
        return key.withUnsafeBytes { Data($0) }
    }
}

enum ConstantTime {
    /// Compares without an early exit, so the time taken does not tell how many bytes matched.
    static func equal(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
