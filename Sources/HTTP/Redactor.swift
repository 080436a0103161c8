/// Takes configured secret values out of text that came back from a provider, a hook or a bridge
/// (an API's error message, a Python exception quoting a URL, a script's last line) before it is
/// shown, stored or passed on (DESIGN.md: secrets are "redacted from any text a provider, hook or
/// bridge returns"; STYLE.md 20). Each secret, as written and percent-encoded, becomes
/// `[redacted]`; so do a URL's userinfo (`https://user:pass@host`) and any query string
/// (`?key=…&cmd=…`), since an API key in a URL is how some hosts take it (dreamhost).
public struct Redactor: Sendable, Equatable {
    public static let marker = "[redacted]"
    /// Shorter values are not redacted: a 1- to 3-character "secret" would shred every sentence.
    public static let shortest = 4

    /// Longest first, so a secret containing another is taken out whole.
    public private(set) var secrets: [String]

    public init(secrets: some Sequence<String> = [String]()) {
        var all = Set<String>()
        for secret in secrets where secret.count >= Self.shortest {
            all.insert(secret)
            let encoded = Self.percentEncoded(secret)
            if encoded != secret { all.insert(encoded) }
        }
        self.secrets = all.sorted { $0.count != $1.count ? $0.count > $1.count : $0 < $1 }
    }

    /// Both redactors' secrets.
    public func merging(_ other: Redactor) -> Redactor {
        Redactor(secrets: secrets + other.secrets)
    }

    /// `text` with every secret, URL userinfo and query string replaced by `[redacted]`.
    public func callAsFunction(_ text: some StringProtocol) -> String {
        var result = String(text)
        for secret in secrets where result.contains(secret) {
            result = result.replacing(secret, with: Self.marker)
        }
        return Self.redactURLs(result)
    }

    /// Text with untrusted content redacted and then clipped (`UntrustedText.clip`): what a
    /// provider, hook or bridge said, fit to quote in a one-line message.
    public func clip(_ text: some StringProtocol, limit: Int = 300) -> String {
        // Only the start is shown: a huge text (a 4 MB API answer) is cut first, far enough out
        // that a secret crossing the first `limit` characters is still whole when redacted.
        let longest = secrets.first?.count ?? 0
        let reach = 4 * (limit + longest) + 64
        let start = text.count > reach ? String(text.prefix(reach)) : String(text)
        return UntrustedText.clip(self(start), limit: limit)
    }

    // MARK: - URLs

    /// What ends a URL-like token ("[" and "]" do not: IPv6 hosts, and the marker itself).
    private static let separators: Set<Character> = [" ", "\t", "\n", "\r", "\"", "'", "<", ">", "(", ")", "{", "}", ","]

    /// Userinfo and query strings of whatever looks like a URL or a request target.
    static func redactURLs(_ text: String) -> String {
        guard text.contains("?") || text.contains("@") else { return text }
        var result = ""
        var token = ""
        for character in text {
            if separators.contains(character) {
                result += redactToken(token)
                token = ""
                result.append(character)
            } else {
                token.append(character)
            }
        }
        return result + redactToken(token)
    }

    private static func redactToken(_ token: String) -> String {
        var token = token
        // scheme://user:password@host/… → scheme://[redacted]@host/…
        if let schemeEnd = firstIndex(of: "://", in: token) {
            let authorityStart = token.index(schemeEnd, offsetBy: 3)
            let authorityEnd = token[authorityStart...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? token.endIndex
            if let at = token[authorityStart..<authorityEnd].lastIndex(of: "@"), at > authorityStart,
               token[authorityStart..<at] != Substring(marker) {
                token = String(token[..<authorityStart]) + marker + String(token[at...])
            }
        }
        // …?key=value&… → …?[redacted]
        if let question = token.firstIndex(of: "?") {
            let query = token[token.index(after: question)...]
            if query.contains("="), query != Substring(marker) {
                token = String(token[...question]) + marker
            }
        }
        return token
    }

    private static func firstIndex(of needle: String, in text: String) -> String.Index? {
        var index = text.startIndex
        while index < text.endIndex {
            if text[index...].hasPrefix(needle) { return index }
            index = text.index(after: index)
        }
        return nil
    }

    /// RFC 3986 §2.3: everything but unreserved characters as %XX, as a URL would carry it.
    static func percentEncoded(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF")
                result += "%" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0xF)])
            }
        }
        return result
    }
}
