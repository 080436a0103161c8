/// The HTTP `Link` header (RFC 8288 §3), as ACME uses it for alternate chains (RFC 8555 §7.4.2),
/// the directory ("index") and "up" links.
///
/// ```
/// Link       = #link-value
/// link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param )
/// link-param = token BWS [ "=" BWS ( token / quoted-string ) ]
/// ```
///
/// Parsing never traps and never gives up on the whole header for one bad link-value: a malformed
/// link-value is skipped up to the next comma that is outside `<…>` and quotes, and the others
/// are kept.
public enum LinkHeader {
    /// One link-value: its target (as written, possibly relative) and its parameters.
    public struct Link: Sendable, Equatable {
        public var target: String
        /// Parameters in order, names lowercased (RFC 8288 §3: names are case-insensitive);
        /// quoted-string values unquoted.
        public var parameters: [Parameter]

        public struct Parameter: Sendable, Equatable {
            public var name: String
            public var value: String?
        }

        /// The relation types of the first `rel` parameter (RFC 8288 §3.3: later ones are
        /// ignored), split on whitespace and lowercased (§2.1.1: registered types compare
        /// case-insensitively).
        public var relations: [String] {
            guard let rel = parameters.first(where: { $0.name == "rel" })?.value else { return [] }
            return rel.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { $0.lowercased() }
        }
    }

    /// At most this many link-values are read from one response (the rest are ignored).
    public static let maximumLinks = 64

    /// All link-values of every `Link` header field line of a response.
    public static func parse(_ fieldValues: [String]) -> [Link] {
        var links: [Link] = []
        for value in fieldValues {
            links.append(contentsOf: parse(value).prefix(maximumLinks - links.count))
            if links.count >= maximumLinks { break }
        }
        return links
    }

    /// The link-values of one field value.
    public static func parse(_ fieldValue: String) -> [Link] {
        var scanner = Scanner(Array(fieldValue.utf8))
        var links: [Link] = []
        while !scanner.atEnd && links.count < maximumLinks {
            scanner.skipWhitespace()
            if scanner.take(UInt8(ascii: ",")) { continue }
            let start = scanner.index
            if let link = scanner.linkValue() {
                scanner.skipWhitespace()
                if scanner.atEnd || scanner.take(UInt8(ascii: ",")) {
                    links.append(link)
                    continue
                }
            }
            scanner.index = start
            scanner.skipToNextLinkValue()
        }
        return links
    }

    /// The targets of the links whose relation types include `relation`, in header order.
    public static func targets(_ fieldValues: [String], relation: String) -> [String] {
        let relation = relation.lowercased()
        return parse(fieldValues).filter { $0.relations.contains(relation) }.map(\.target)
    }

    /// A cursor over the bytes of a field value; every access is bounds-checked.
    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index >= bytes.count }
        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func take(_ byte: UInt8) -> Bool {
            guard current == byte else { return false }
            index += 1
            return true
        }

        mutating func skipWhitespace() {
            while let byte = current, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { index += 1 }
        }

        /// `"<" URI-Reference ">" *( OWS ";" OWS link-param )`, or nil when malformed.
        mutating func linkValue() -> Link? {
            guard take(UInt8(ascii: "<")) else { return nil }
            let start = index
            while let byte = current, byte != UInt8(ascii: ">") {
                // A URI-reference has no whitespace, '<' or control characters (RFC 3986 §2).
                guard byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "<") else { return nil }
                index += 1
            }
            guard current == UInt8(ascii: ">") else { return nil }
            let target = String(decoding: bytes[start..<index], as: UTF8.self)
            index += 1
            var parameters: [Link.Parameter] = []
            while true {
                skipWhitespace()
                guard take(UInt8(ascii: ";")) else { break }
                skipWhitespace()
                // "<a>;" with nothing after the semicolon is tolerated, as browsers do.
                if atEnd || current == UInt8(ascii: ",") { break }
                guard let name = token() else { return nil }
                skipWhitespace()
                var value: String?
                if take(UInt8(ascii: "=")) {
                    skipWhitespace()
                    if current == UInt8(ascii: "\"") {
                        guard let quoted = quotedString() else { return nil }
                        value = quoted
                    } else {
                        guard let plain = token() else { return nil }
                        value = plain
                    }
                }
                parameters.append(Link.Parameter(name: name.lowercased(), value: value))
            }
            return Link(target: target, parameters: parameters)
        }

        /// RFC 9110 §5.6.2 token.
        mutating func token() -> String? {
            let start = index
            while let byte = current, Self.isTokenCharacter(byte) { index += 1 }
            guard index > start else { return nil }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        /// RFC 9110 §5.6.4 quoted-string, with quoted-pairs unescaped; nil when never closed.
        mutating func quotedString() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            var value: [UInt8] = []
            while let byte = current {
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: value, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard let escaped = current else { return nil }
                    value.append(escaped)
                    index += 1
                default:
                    value.append(byte)
                }
            }
            return nil
        }

        /// Skips past the next comma that is outside quoted strings (and outside the `<…>` the
        /// link-value may start with), or to the end.
        mutating func skipToNextLinkValue() {
            if take(UInt8(ascii: "<")) {
                while let byte = current, byte != UInt8(ascii: ">") { index += 1 }
            }
            var inQuotes = false
            while let byte = current {
                index += 1
                if inQuotes {
                    if byte == UInt8(ascii: "\\") { if !atEnd { index += 1 } } else if byte == UInt8(ascii: "\"") { inQuotes = false }
                } else if byte == UInt8(ascii: "\"") {
                    inQuotes = true
                } else if byte == UInt8(ascii: ",") {
                    return
                }
            }
        }

        static func isTokenCharacter(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return true
            default:
                return "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
        }
    }
}
