import Crypto
import Foundation
import MessageBus

/// Seals the whole reply of a command whose answer holds secrets shown once (a rotated refresh
/// token, a new API key), so the ledger can keep it until the reply is out: if publishing fails
/// after the commit, the redelivery re-sends the real tokens from the ledger instead of their
/// redacted copy (which would leave the user holding a token that was already rotated away).
/// Once the reply is published, the sealed copy is deleted (``CommandProcessor/forgetSealedReplies(_:)``).
public struct ReplySealer: Sendable {
    private let key: SymmetricKey

    /// A sealer whose key is derived from `secret` (a service's sealing key) for this use only.
    public init(deriving secret: SymmetricKey) {
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: secret, info: Data("billing ledger reply sealing v1".utf8), outputByteCount: 32)
    }

    /// The reply's JSON, sealed (ChaCha20-Poly1305), as base64 text.
    func seal(_ reply: Reply, ledgerID: String) throws -> String {
        try ChaChaPoly.seal(try MessageCoding.encode(reply), using: key, authenticating: Data(ledgerID.utf8)).combined
            .base64EncodedString()
    }

    /// The sealed reply, or nil when it cannot be opened (another key, or tampered with).
    func open(_ text: String, ledgerID: String) -> Reply? {
        guard let data = Data(base64Encoded: text), let box = try? ChaChaPoly.SealedBox(combined: data),
            let plain = try? ChaChaPoly.open(box, using: key, authenticating: Data(ledgerID.utf8))
        else { return nil }
        return try? MessageCoding.decode(Reply.self, from: plain)
    }
}
