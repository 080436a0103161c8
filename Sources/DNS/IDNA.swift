internal import CIDN2

/// Internationalized domain names through libidn2: UTS #46 non-transitional processing with
/// IDNA2008 rules (RFC 5890–5893), as browsers and Let's Encrypt apply them. A name with
/// non-ASCII characters becomes its A-label form (`bücher.example` → `xn--bcher-kva.example`,
/// RFC 3492 Punycode with the `xn--` prefix, RFC 5890 §2.3.2.1); "ß", "ς" and the joiners stay
/// distinct (`faß.de` → `xn--fa-hia.de`, not `fass.de` as transitional processing would map it).
/// Names are stored and sent to the CA and the DNS in A-label form; the U-label form is only
/// ever shown to people.
public enum IDNA {
    /// Longest input handed to libidn2, in UTF-8 octets: a DNS name is at most 253 octets in
    /// A-label form, and no U-label form of one needs more than four octets per character.
    static let maximumInputOctets = 1024

    /// The A-label form of `name`. Pure-ASCII names without an `xn--` label come back as they
    /// are (their syntax is `DomainName.normalize`'s to check); the others are mapped and
    /// converted by UTS #46 §4 (lowercased, NFC, disallowed code points refused), and `xn--`
    /// labels are checked to decode to valid U-labels. A leading "*." (RFC 8555 §7.1.3 wildcard)
    /// is kept as it is. Errors name `name` and libidn2's reason.
    public static func toASCII(_ name: String) throws -> String {
        guard needsProcessing(name) else { return name }
        func invalid(_ why: String) -> DNSError {
            DNSError(.invalidName, "'\(name)' is not a valid internationalized domain name: \(why).", name: name)
        }
        guard !name.utf8.contains(0) else { throw invalid("it contains a NUL character") }
        guard name.utf8.count <= maximumInputOctets else {
            throw invalid("it is \(name.utf8.count) octets long, far more than a DNS name can hold")
        }
        var prefix = "", rest = Substring(name)
        if rest.hasPrefix("*.") { prefix = "*."; rest = rest.dropFirst(2) }
        // A label that is empty only because the name ends in "." is kept as the caller gave it.
        var output: UnsafeMutablePointer<CChar>?
        let status = String(rest).withCString { idn2_to_ascii_8z($0, &output, CInt(IDN2_NONTRANSITIONAL.rawValue)) }
        defer { idn2_free(output) }
        guard status == CInt(IDN2_OK.rawValue), let output else { throw invalid(reason(status)) }
        return prefix + String(cString: output)
    }

    /// The U-label form of `name` (`xn--bcher-kva.example` → `bücher.example`), or nil when it
    /// has no `xn--` label or one of them does not decode to a valid U-label. Never throws: this
    /// is for showing a name, not for checking it.
    public static func toUnicode(_ name: String) -> String? {
        guard hasALabel(name), !name.utf8.contains(0), name.utf8.count <= maximumInputOctets else { return nil }
        var output: UnsafeMutablePointer<CChar>?
        let status = name.withCString { idn2_to_unicode_8z8z($0, &output, 0) }
        defer { idn2_free(output) }
        guard status == CInt(IDN2_OK.rawValue), let output else { return nil }
        let text = String(cString: output)
        return text == name ? nil : text
    }

    /// True when `name` has a non-ASCII character or an `xn--` label (any case).
    static func needsProcessing(_ name: String) -> Bool {
        !name.utf8.allSatisfy { $0 < 0x80 } || hasALabel(name)
    }

    /// True when a label of `name` starts with "xn--" (RFC 5890 §2.3.1: the ACE prefix, in any case).
    static func hasALabel(_ name: String) -> Bool {
        name.split(separator: ".").contains { $0.lowercased().hasPrefix("xn--") }
    }

    /// libidn2's sentence for a status code, saying which DNS limit was hit when it is one
    /// (libidn2 reports a long label as its Punycode buffer being too small).
    static func reason(_ status: CInt) -> String {
        let text = idn2_strerror(status).map { String(cString: $0) } ?? "libidn2 error \(status)"
        switch status {
        case CInt(IDN2_PUNYCODE_BIG_OUTPUT.rawValue), CInt(IDN2_TOO_BIG_LABEL.rawValue):
            return "a label is longer than 63 octets in A-label form (\(text))"
        case CInt(IDN2_TOO_BIG_DOMAIN.rawValue):
            return "it is longer than 253 octets in A-label form (\(text))"
        default:
            return text
        }
    }
}
