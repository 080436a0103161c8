/// Checks and shapes DNS names the way certificates and RFC 8555 need them.
public enum DomainName {
    /// Validates a certificate identifier or DNS name and returns it lowercased without a
    /// trailing dot. Labels are 1…63 octets of letters, digits and hyphens (no hyphen first or
    /// last), the name at most 253 octets and at least two labels; "*" only as the whole leftmost
    /// label when `allowWildcard`, "_" only when `allowUnderscore` (RFC 1035 §2.3.1, RFC 8555 §7.1.3).
    public static func normalize(_ name: String, allowWildcard: Bool = false, allowUnderscore: Bool = false) throws -> String {
        func invalid(_ why: String) -> DNSError {
            DNSError(.invalidName, "'\(name)' is not a valid domain name: \(why).", name: name)
        }
        var text = name.lowercased()
        if text.hasSuffix(".") { text.removeLast() }
        guard !text.isEmpty else { throw invalid("it is empty") }
        guard text.utf8.count <= 253 else { throw invalid("it is \(text.utf8.count) octets long, more than 253") }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { throw invalid("it has a single label") }
        for (index, label) in labels.enumerated() {
            guard !label.isEmpty else { throw invalid("it has an empty label") }
            if label == "*" {
                guard allowWildcard else { throw invalid("wildcards are not allowed here") }
                guard index == 0 else { throw invalid("'*' may only be the leftmost label") }
                guard labels.count >= 3 else { throw invalid("a wildcard needs at least two labels after '*.'") }
                continue
            }
            guard label.utf8.count <= 63 else {
                throw invalid("label '\(label.prefix(20))…' is \(label.utf8.count) octets long, more than 63")
            }
            for scalar in label.unicodeScalars {
                switch scalar {
                case "a"..."z", "0"..."9", "-": continue
                case "_" where allowUnderscore: continue
                case "*": throw invalid("'*' may only be the whole leftmost label")
                default:
                    throw invalid("label '\(label)' contains '\(scalar)' (only letters, digits and '-' are allowed; use punycode for IDNs)")
                }
            }
            if label.hasPrefix("-") || label.hasSuffix("-") {
                throw invalid("label '\(label)' starts or ends with '-'")
            }
        }
        return text
    }

    /// Throws unless a challenge record `prefixOctets` longer than the identifier's base
    /// ("*.x" has base "x") is still a name: at most 253 octets in text form (RFC 1035 §2.3.4's
    /// 255 on the wire). `prefix` shows the prefix in the sentence ("_acme-challenge.").
    public static func requireRoom(forPrefix prefix: String, octets prefixOctets: Int, before identifier: String) throws {
        let base = self.base(of: canonical(identifier))
        let length = base.utf8.count
        guard length + prefixOctets > 253 else { return }
        throw DNSError(.invalidName, "'\(base)' is \(length) octets long, too long for its challenge record \(prefix)\(base), which would be \(length + prefixOctets) octets, more than the 253 of a DNS name (at most \(253 - prefixOctets) octets fit).", name: identifier)
    }

    /// True for a wildcard identifier, "*.x" (RFC 8555 §7.1.3).
    public static func isWildcard(_ identifier: String) -> Bool { identifier.hasPrefix("*.") }

    /// The name an identifier's challenge is for: "*.x" has base "x" (RFC 8555 §7.1.3, §8.4);
    /// any other name is its own base. As given otherwise (not lowercased): the one `*.` strip.
    public static func base(of identifier: String) -> String {
        isWildcard(identifier) ? String(identifier.dropFirst(2)) : identifier
    }

    /// "_acme-challenge.<base>" for an identifier; "*.x" has base "x" (RFC 8555 §8.4).
    public static func challengeName(for identifier: String) -> String {
        var name = identifier.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        return "_acme-challenge." + base(of: name)
    }

    /// True when `name` is `zone` or lies below it.
    public static func isSubdomain(_ name: String, of zone: String) -> Bool {
        let name = canonical(name), zone = canonical(zone)
        return zone.isEmpty || name == zone || name.hasSuffix("." + zone)
    }

    /// Lowercased, without the trailing dot.
    public static func canonical(_ name: String) -> String {
        var text = name.lowercased()
        while text.hasSuffix(".") { text.removeLast() }
        return text
    }

    /// The name with its leftmost label removed ("" past the last label).
    static func parent(of name: String) -> String {
        guard let dot = name.firstIndex(of: ".") else { return "" }
        return String(name[name.index(after: dot)...])
    }
}
