import Foundation

/// The most common passwords of 10 or more characters (`Resources/common-passwords.txt`, from
/// zxcvbn's frequency list; shorter ones fail the length rule already), refused at signup and reset.
enum CommonPasswords {
    static let all: Set<String> = {
        guard let url = Bundle.module.url(forResource: "common-passwords", withExtension: "txt"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return [] }
        return Set(text.split(separator: "\n").lazy.filter { !$0.hasPrefix("#") }.map(String.init))
    }()
}
