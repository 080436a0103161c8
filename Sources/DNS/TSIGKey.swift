import Foundation

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
            throw DNSError(.keyFile, "TSIG key '\(name)' uses algorithm '\(algorithm)', which libldns cannot sign with; use one of \(TSIGKey.supportedAlgorithms.joined(separator: ", ")).")
        }
        guard let bytes = Data(base64Encoded: secret), !bytes.isEmpty else {
            throw DNSError(.keyFile, "The secret of TSIG key '\(name)' is not valid base64.")
        }
        self.name = DomainName.canonical(name)
        self.algorithm = algorithm
        self.secret = secret
    }

    /// Reads a BIND key file as `tsig-keygen` and `rndc-confgen` write it.
    public init(contentsOf path: String) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw DNSError(.keyFile, "Cannot read TSIG key file \(path): \((error as NSError).localizedDescription).")
        }
        self = try TSIGKey.parse(bindKeyFile: text, path: path)
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
                throw fail("expected \(expected) but the file ends", line: text.split(separator: "\n", omittingEmptySubsequences: false).count)
            }
            return token
        }
        let keyword = try next("'key'")
        guard keyword.text == "key", !keyword.quoted else { throw fail("expected 'key' but found '\(keyword.text)'", line: keyword.line) }
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
            let value = try next("a value for '\(word.text)'")
            let semicolon = try next("';'")
            guard semicolon.text == ";" else { throw fail("expected ';' after '\(word.text)'", line: semicolon.line) }
            switch word.text {
            case "algorithm": algorithm = value.text; algorithmLine = value.line
            case "secret": secret = value.text; secretLine = value.line
            default: throw fail("unknown statement '\(word.text)' in the key", line: word.line)
            }
        }
        if let end = tokens.first, end.text == ";" { tokens.removeFirst() }
        if let extra = tokens.first {
            throw fail(extra.text == "key" ? "only one key per file is supported" : "unexpected '\(extra.text)' after the key", line: extra.line)
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
}

/// Splits BIND configuration text into words, quoted strings and punctuation.
enum BindTokenizer {
    struct Token {
        var text: String
        var quoted: Bool
        var line: Int
    }

    static func tokens(of text: String, path: String) throws -> [Token] {
        var tokens: [Token] = []
        let characters = Array(text)
        var index = 0
        var line = 1
        while index < characters.count {
            let character = characters[index]
            if character == "\n" { line += 1; index += 1; continue }
            if character.isWhitespace { index += 1; continue }
            if character == "#" || (character == "/" && index + 1 < characters.count && characters[index + 1] == "/") {
                while index < characters.count && characters[index] != "\n" { index += 1 }
                continue
            }
            if character == "/" && index + 1 < characters.count && characters[index + 1] == "*" {
                let start = line
                index += 2
                while index + 1 < characters.count && !(characters[index] == "*" && characters[index + 1] == "/") {
                    if characters[index] == "\n" { line += 1 }
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
                    if characters[index] == "\n" { line += 1 }
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
