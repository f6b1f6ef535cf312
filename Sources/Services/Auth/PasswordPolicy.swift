/// What a new password must meet: at least 10 characters, not the email (nor its local part), not
/// one of the common passwords shipped with the service. Every failed rule is reported at once.
public enum PasswordPolicy {
    public static let minimumLength = 10

    /// The rules `password` breaks, as sentences for the 422's detail; empty when it passes.
    public static func violations(_ password: String, email: String) -> [String] {
        var failed: [String] = []
        if password.count < minimumLength { failed.append("it must have at least \(minimumLength) characters") }
        let lowered = password.lowercased()
        let email = email.lowercased()
        let local = email.split(separator: "@").first.map(String.init) ?? email
        if lowered == email || (!local.isEmpty && lowered == local) || (local.count >= 4 && lowered.contains(local)) {
            failed.append("it must not be or contain the email address")
        }
        if CommonPasswords.all.contains(lowered) { failed.append("it is one of the most common passwords") }
        if Set(lowered).count == 1 { failed.append("it must not repeat a single character") }
        return failed
    }
}
