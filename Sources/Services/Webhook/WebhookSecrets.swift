import Crypto
import Foundation
import MessageBus

/// Signing secrets (`whsec_<base64 of 32 bytes>`, as Standard Webhooks has them), sealed at rest
/// so the worker can sign with them and no stored copy reveals them.
struct WebhookSecrets: Sendable {
    let key: SymmetricKey

    static func generate() -> String {
        "whsec_" + SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
    }

    func seal(_ secret: String) throws -> String {
        guard let box = try AES.GCM.seal(Data(secret.utf8), using: key).combined else {
            throw Problem(status: 500, code: "internal", title: "Internal", detail: "the secret could not be sealed")
        }
        return box.base64EncodedString()
    }

    func open(_ sealed: String) throws -> String {
        guard let data = Data(base64Encoded: sealed) else { throw SealedSecretError() }
        let plain = try AES.GCM.open(try AES.GCM.SealedBox(combined: data), using: key)
        return String(decoding: plain, as: UTF8.self)
    }

    struct SealedSecretError: Error, CustomStringConvertible {
        var description: String { "a sealed webhook secret is not valid base64" }
    }

    /// `v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`; the key is the secret's base64 part decoded.
    static func signature(secret: String, id: String, timestamp: Int, body: [UInt8]) -> String {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
        let keyData = Data(base64Encoded: encoded) ?? Data(secret.utf8)
        var message = Array("\(id).\(timestamp).".utf8)
        message += body
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: keyData))
        return "v1," + Data(mac).base64EncodedString()
    }
}

/// Object IDs: `<prefix>_<time-ordered hex>`.
enum WebhookIDs {
    static func make(_ prefix: String, at date: Date) -> String {
        "\(prefix)_" + MessageID.make(at: date).replacingOccurrences(of: "-", with: "")
    }

    /// The API's ID of an event (its envelope ID with an `evt_` prefix).
    static func event(_ envelopeID: String) -> String { "evt_" + envelopeID }

    /// One delivery per (event, endpoint): a redelivered event finds the document it made before.
    static func delivery(event: String, endpoint: String) -> String {
        "whd_" + Hex.encode(SHA256.hash(data: Data("\(event)|\(endpoint)".utf8)).prefix(16))
    }
}
