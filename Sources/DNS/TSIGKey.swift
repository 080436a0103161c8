import FoundationEssentials
import FoundationShim
import Glibc

/// A TSIG key (RFC 8945). The secret never appears in `description`, errors or logs.
public struct TSIGKey: Sendable, CustomStringConvertible {
    public var name: String
    /// "hmac-sha256", "hmac-sha512", "hmac-sha1" or "hmac-md5".
    public var algorithm: String
    /// Base64, as in the key file.
    public var secret: String

    /// The HMACs libldns 1.8 signs with (its table misspells hmac-sha384, and has no sha224).
    public static let supportedAlgorithms = ["hmac-sha256", "hmac-sha512", "hmac-sha1", "hmac-md5"]

    public init(name: String, algorithm: String, secret: String) throws {
        var algorithm = DomainName.canonical(algorithm)
        if algorithm == "hmac-md5.sig-alg.reg.int" { algorithm = "hmac-md5" }
        guard TSIGKey.supportedAlgorithms.contains(algorithm) else {
            let shown = BindTokenizer.isKeyword(algorithm) ? "algorithm '\(algorithm)'" : "an algorithm that is not a name"
            throw DNSError(.keyFile, "TSIG key '\(name)' uses \(shown), which libldns cannot sign with; use one of \(TSIGKey.supportedAlgorithms.joined(separator: ", ")).")
        }
        guard let bytes = Data(base64Encoded: secret), !bytes.isEmpty else {
            throw DNSError(.keyFile, "The secret of TSIG key '\(name)' is not valid base64.")
        }
        self.name = DomainName.canonical(name)
        self.algorithm = algorithm
        self.secret = secret
    }

    /// Parses a key file, read by the caller (the provider reads it through the bounded reader):
    /// BIND's format as `tsig-keygen` and `rndc-confgen` write it, or Knot's as `keymgr -t`
    /// writes it: Knot's YAML form when its first line that is not blank or a comment is `key:`,
    /// otherwise BIND's form.
    public static func parse(keyFile text: String, path: String) throws -> TSIGKey {
        let first = text.split(whereSeparator: \.isNewline).map { $0.trimmingWhitespace() }
            .first { !$0.isEmpty && !$0.hasPrefix("#") }
        if let first, first == "key:" || first.hasPrefix("key:") && first.dropFirst(4).first?.isWhitespace == true {
            return try parse(knotKeyFile: text, path: path)
        }
        return try parse(bindKeyFile: text, path: path)
    }

    public var description: String { "TSIG key '\(name)' (\(algorithm))" }

    /// The algorithm name libldns expects.
    var ldnsAlgorithm: String {
        algorithm == "hmac-md5" ? "hmac-md5.sig-alg.reg.int." : algorithm + "."
    }

    /// Parses `key "name" { algorithm hmac-sha256; secret "…"; };` with `#`, `//` and `/* */`
    /// comments. Errors name the file and line, never the secret.
    public static func parse(bindKeyFile text: String, path: String) throws -> TSIGKey {
        var tokens = try BindTokenizer.tokens(of: text, path: path)[...]
        func fail(_ why: String, line: Int) -> DNSError {
            DNSError(.keyFile, "TSIG key file \(path) line \(line): \(why).")
        }
        func next(_ expected: String) throws -> BindTokenizer.Token {
            guard let token = tokens.popFirst() else {
                throw fail("expected \(expected) but the file ends", line: text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).count)
            }
            return token
        }
        let keyword = try next("'key'")
        guard keyword.text == "key", !keyword.quoted else { throw fail("expected 'key' but found \(keyword.shown)", line: keyword.line) }
        let name = try next("a key name")
        guard name.text != "{", !name.text.isEmpty else { throw fail("the key has no name", line: name.line) }
        let open = try next("'{'")
        guard open.text == "{", !open.quoted else { throw fail("expected '{' after the key name", line: open.line) }
        var algorithm: String?
        var secret: String?
        var secretLine = name.line
        var algorithmLine = name.line
        while true {
            let word = try next("'}'")
            if word.text == "}" && !word.quoted { break }
            let value = try next("a value for \(word.shown)")
            let semicolon = try next("';'")
            guard semicolon.text == ";", !semicolon.quoted else { throw fail("expected ';' after \(word.shown)", line: semicolon.line) }
            switch word.text {
            case "algorithm": algorithm = value.text; algorithmLine = value.line
            case "secret": secret = value.text; secretLine = value.line
            default: throw fail("unknown statement \(word.shown) in the key", line: word.line)
            }
        }
        if let end = tokens.first, end.text == ";" { tokens.removeFirst() }
        if let extra = tokens.first {
            throw fail(extra.text == "key" ? "only one key per file is supported" : "found \(extra.shown) after the key", line: extra.line)
        }
        guard let algorithm else { throw fail("key '\(name.text)' has no algorithm", line: name.line) }
        guard let secret else { throw fail("key '\(name.text)' has no secret", line: name.line) }
        do {
            return try TSIGKey(name: name.text, algorithm: algorithm, secret: secret)
        } catch let error as DNSError {
            // The init's sentence, placed at the line that holds the bad value.
            let line = error.message.contains("base64") ? secretLine : algorithmLine
            throw DNSError(.keyFile, "TSIG key file \(path) line \(line): \(error.message)")
        }
    }

    /// Parses Knot's YAML key section as `keymgr -t NAME ALG` prints it (the secret also sits in
    /// its first comment line, which is skipped like every comment):
    ///
    /// ```
    /// key:
    ///   - id: acme-key
    ///     algorithm: hmac-sha256
    ///     secret: BASE64
    /// ```
    /// Values may be quoted ('…' or "…"). Errors name the file and line, never a value.
    public static func parse(knotKeyFile text: String, path: String) throws -> TSIGKey {
        func fail(_ why: String, line: Int) -> DNSError {
            DNSError(.keyFile, "TSIG key file \(path) line \(line): \(why).")
        }
        var sawSection = false, sawItem = false
        var fields: [String: (value: String, line: Int)] = [:]
        var itemLine = 0
        for (offset, content) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = offset + 1
            let trimmed = content.trimmingWhitespace()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            // YAML lets a sequence sit at its parent's indentation ("key:\n- id: …").
            let nested = content.first?.isWhitespace == true || trimmed.hasPrefix("-")
            if !nested {
                guard !sawSection, trimmed == "key:" || trimmed.hasPrefix("key:") && trimmed.dropFirst(4).trimmingWhitespace().hasPrefix("#") else {
                    throw fail(sawSection ? "only the 'key:' section of a Knot configuration is read, one key per file" : "expected 'key:'", line: line)
                }
                sawSection = true
                continue
            }
            guard sawSection else { throw fail("expected 'key:'", line: line) }
            var entry = Substring(trimmed)
            if entry.hasPrefix("-") {
                guard !sawItem else { throw fail("only one key per file is supported", line: line) }
                sawItem = true
                itemLine = line
                entry = entry.dropFirst().drop(while: \.isWhitespace)
            } else if !sawItem {
                throw fail("expected '- id: NAME' under 'key:'", line: line)
            }
            guard let colon = entry.firstIndex(of: ":") else {
                throw fail("expected 'name: value'", line: line)
            }
            let name = String(entry[..<colon]).trimmingWhitespace()
            guard BindTokenizer.isKeyword(name) else { throw fail("expected 'name: value'", line: line) }
            guard ["id", "algorithm", "secret"].contains(name) else {
                throw fail("unknown field '\(name)' in the key (known: id, algorithm, secret)", line: line)
            }
            guard fields[name] == nil else { throw fail("field '\(name)' appears twice", line: line) }
            guard let value = knotValue(entry[entry.index(after: colon)...]) else {
                throw fail("the value of '\(name)' is not a plain or quoted YAML scalar", line: line)
            }
            fields[name] = (value, line)
        }
        guard sawItem else { throw fail("the 'key:' section lists no key", line: max(itemLine, 1)) }
        guard let name = fields["id"], !name.value.isEmpty else { throw fail("the key has no id", line: itemLine) }
        guard let algorithm = fields["algorithm"] else { throw fail("key '\(name.value)' has no algorithm", line: itemLine) }
        guard let secret = fields["secret"] else { throw fail("key '\(name.value)' has no secret", line: itemLine) }
        do {
            return try TSIGKey(name: name.value, algorithm: algorithm.value, secret: secret.value)
        } catch let error as DNSError {
            let line = error.message.contains("base64") ? secret.line : algorithm.line
            throw DNSError(.keyFile, "TSIG key file \(path) line \(line): \(error.message)")
        }
    }

    /// A YAML scalar on one line: plain (a trailing " #" comment dropped), '…' or "…"; nil when
    /// a quote is not closed or text follows it.
    private static func knotValue(_ text: Substring) -> String? {
        let value = text.trimmingWhitespace()
        guard let quote = value.first, quote == "\"" || quote == "'" else {
            if let comment = value.firstRange(of: " #") ?? value.firstRange(of: "\t#") {
                return String(value[..<comment.lowerBound]).trimmingWhitespace()
            }
            return value
        }
        let body = value.dropFirst()
        guard let close = body.firstIndex(of: quote) else { return nil }
        let rest = body[body.index(after: close)...].trimmingWhitespace()
        guard rest.isEmpty || rest.hasPrefix("#") else { return nil }
        return String(body[..<close])
    }
}

/// Splits BIND configuration text into words, quoted strings and punctuation.
enum BindTokenizer {
    struct Token {
        var text: String
        var quoted: Bool
        var line: Int

        /// The token for an error message: punctuation and keyword-shaped words quoted, anything
        /// else (which may be the secret) only described.
        var shown: String {
            if !quoted && (text == "{" || text == "}" || text == ";" || BindTokenizer.isKeyword(text)) { return "'\(text)'" }
            return quoted ? "a quoted string" : "a word that is not a keyword"
        }
    }

    /// Lowercase letters, digits, '-' and '.', at most 32 characters, starting with a letter: the
    /// shape of a statement or algorithm name, which a base64 secret (mixed case, '+', '/', '=',
    /// 24 characters or more for 16 bytes and up) practically never has.
    static func isKeyword(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, ("a"..."z").contains(first), text.unicodeScalars.count <= 32 else { return false }
        return text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "." }
    }

    static func tokens(of text: String, path: String) throws -> [Token] {
        var tokens: [Token] = []
        let characters = Array(text)
        var index = 0
        var line = 1
        while index < characters.count {
            let character = characters[index]
            if character.isNewline { line += 1; index += 1; continue }
            if character.isWhitespace { index += 1; continue }
            if character == "#" || (character == "/" && index + 1 < characters.count && characters[index + 1] == "/") {
                while index < characters.count && !characters[index].isNewline { index += 1 }
                continue
            }
            if character == "/" && index + 1 < characters.count && characters[index + 1] == "*" {
                let start = line
                index += 2
                while index + 1 < characters.count && !(characters[index] == "*" && characters[index + 1] == "/") {
                    if characters[index].isNewline { line += 1 }
                    index += 1
                }
                guard index + 1 < characters.count else {
                    throw DNSError(.keyFile, "TSIG key file \(path) line \(start): a '/*' comment is never closed.")
                }
                index += 2
                continue
            }
            if character == "{" || character == "}" || character == ";" {
                tokens.append(Token(text: String(character), quoted: false, line: line))
                index += 1
                continue
            }
            if character == "\"" {
                let start = line
                var value = ""
                index += 1
                while index < characters.count && characters[index] != "\"" {
                    if characters[index].isNewline { line += 1 }
                    value.append(characters[index])
                    index += 1
                }
                guard index < characters.count else {
                    throw DNSError(.keyFile, "TSIG key file \(path) line \(start): a quoted string is never closed.")
                }
                index += 1
                tokens.append(Token(text: value, quoted: true, line: start))
                continue
            }
            var word = ""
            while index < characters.count, !characters[index].isWhitespace, !"{};\"".contains(characters[index]) {
                word.append(characters[index])
                index += 1
            }
            tokens.append(Token(text: word, quoted: false, line: line))
        }
        return tokens
    }
}
