import ACME
import Crypto
import DNS
import FoundationEssentials
import Glibc
import HTTP

/// One dns-persist-01 validation record: the TXT value at `_validation-persist.<name>` that lets
/// one CA issue for the name to one ACME account, again and again, without a new DNS change per
/// order (draft-ietf-acme-dns-persist-01 §4.1, CA/B Forum ballot SC-088).
///
/// The value is an RFC 8659 §4.2 issue-value: the CA's issuer domain name, then `tag=value`
/// parameters separated by ";", spaces and tabs allowed around each part:
///
///     authority.example; accounturi=https://ca.example/acct/123; policy=wildcard; persistUntil=1767225600
///
/// - `accounturi` (required): the account URL (RFC 8657 §3), compared exactly (RFC 3986 §6.2.1).
/// - `policy=wildcard` (optional, tag and value case-insensitive): the record also covers the
///   wildcard and every subdomain of the name (§5, §6); any other value means the name alone.
/// - `persistUntil` (optional): Unix seconds, base 10; the record is void after it. A value
///   that is not base 10 makes the record malformed.
/// - Any other parameter is kept and ignored (§4.1 item 1: forward compatibility).
///
/// Parsing agrees with what acme2certifier 0.46.3's validator accepts (parameter tags
/// case-insensitive, empty parts between ";" skipped, a duplicate tag malformed) and is otherwise
/// stricter: issuer names are compared lowercased but not otherwise normalized, and only spaces
/// and tabs are trimmed. A record this type calls authorizing is one the CA accepts; a record
/// it rejects at worst sends the client back to dns-01.
///
/// draft-ietf-acme-dns-persist-02 replaces the account URL with a hashed URI under the CA's
/// `accountHashPrefix` (`hashedAccountURI`); the CAs deployed today take the account URL.
public struct PersistRecord: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The label before the validated name (draft §2, §8.2).
    public static let label = "_validation-persist"
    /// Longest value parsed, in octets: a real record is about 100; the cap keeps a hostile
    /// zone from making every lookup parse 64 KiB (STYLE.md 12).
    public static let maximumLength = 2048
    /// Most parameters parsed in one value.
    public static let maximumParameters = 32

    public struct Parameter: Sendable, Hashable, Codable {
        public var tag: String
        public var value: String

        public init(tag: String, value: String) {
            self.tag = tag
            self.value = value
        }
    }

    /// Why a value is not a well-formed record (§9.3.1: the CA answers `malformed`).
    public struct Malformed: Error, Sendable, Hashable, CustomStringConvertible {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
        public var description: String { reason }
    }

    /// The issuer domain name, as written.
    public var issuer: String
    /// Every parameter in the order written, unknown ones included.
    public var parameters: [Parameter]

    /// A record for `accountURI` at the CA named `issuer`. Throws `Malformed` for an issuer that
    /// is not a domain name or an account URI that an issue-value cannot carry (RFC 8659 §4.2:
    /// printable ASCII without ";" or spaces).
    public init(issuer: String, accountURI: String, wildcard: Bool = false, persistUntil: Date? = nil) throws {
        let issuerName: String
        do {
            issuerName = try DomainName.normalize(issuer)
        } catch let error as DNSError {
            throw Malformed("the issuer domain name is not usable: \(error.message)")
        }
        guard !accountURI.isEmpty, accountURI.unicodeScalars.allSatisfy(Self.isValueCharacter) else {
            throw Malformed("the account URL '\(accountURI)' cannot be written in a record: it must be printable ASCII without spaces or ';'")
        }
        var parameters = [Parameter(tag: "accounturi", value: accountURI)]
        if wildcard { parameters.append(Parameter(tag: "policy", value: "wildcard")) }
        if let persistUntil {
            let seconds = persistUntil.timeIntervalSince1970.rounded(.down)
            guard seconds >= 0, seconds < 1e15 else { throw Malformed("persistUntil \(persistUntil) is not a time a record can carry") }
            parameters.append(Parameter(tag: "persistUntil", value: String(Int64(seconds))))
        }
        self.issuer = issuerName
        self.parameters = parameters
    }

    /// Parses a TXT value (the character-strings joined, RFC 1035 §3.3.14). Never traps: any
    /// input either parses or throws `Malformed`.
    public init(parsing text: String) throws {
        guard text.utf8.count <= Self.maximumLength else {
            throw Malformed("it is \(text.utf8.count) octets long, more than \(Self.maximumLength)")
        }
        let parts = text.unicodeScalars.split(separator: ";", omittingEmptySubsequences: false).map(Self.trimmed)
        let issuer = parts[0]
        guard !issuer.isEmpty else { throw Malformed("it names no issuer domain name before the first ';'") }
        guard !issuer.unicodeScalars.contains("=") else { throw Malformed("it starts with a parameter, not an issuer domain name") }
        var parameters: [Parameter] = []
        var seen = Set<String>()
        for part in parts.dropFirst() where !part.isEmpty {
            let scalars = part.unicodeScalars
            guard let equals = scalars.firstIndex(of: "=") else {
                throw Malformed("parameter '\(UntrustedText.clip(part, limit: 40))' has no '='")
            }
            let tag = Self.trimmed(scalars[..<equals])
            let value = Self.trimmed(scalars[scalars.index(after: equals)...])
            guard !tag.isEmpty else { throw Malformed("a parameter has no tag before its '='") }
            guard seen.insert(Self.asciiLowercased(tag)).inserted else {
                throw Malformed("parameter '\(UntrustedText.clip(tag, limit: 40))' appears twice")
            }
            guard parameters.count < Self.maximumParameters else {
                throw Malformed("it has more than \(Self.maximumParameters) parameters")
            }
            parameters.append(Parameter(tag: tag, value: value))
        }
        self.issuer = issuer
        self.parameters = parameters
        if let until = value(of: "persistUntil"), !Self.isBase10(until) {
            throw Malformed("persistUntil '\(UntrustedText.clip(until, limit: 40))' is not a base-10 integer")
        }
    }

    /// The value to write (one line; a provider splits it into 255-octet character-strings).
    public var text: String {
        ([issuer] + parameters.map { "\($0.tag)=\($0.value)" }).joined(separator: "; ")
    }

    public var description: String { text }

    /// The value of a parameter; tags compare case-insensitively.
    public func value(of tag: String) -> String? {
        let tag = Self.asciiLowercased(tag)
        return parameters.first { Self.asciiLowercased($0.tag) == tag }?.value
    }

    /// The `accounturi` parameter.
    public var accountURI: String? { value(of: "accounturi") }

    /// `policy=wildcard`, in any case (§4.1 item 4).
    public var allowsWildcard: Bool { value(of: "policy").map(Self.asciiLowercased) == "wildcard" }

    /// `persistUntil` in Unix seconds (leading zeros and all); a number past Int64 counts as never.
    public var persistUntilSeconds: Int64? {
        guard let text = value(of: "persistUntil"), Self.isBase10(text) else { return nil }
        let digits = text.drop { $0 == "0" }
        return digits.isEmpty ? 0 : Int64(digits) ?? Int64.max
    }

    /// `persistUntil` as a date.
    public var persistUntil: Date? {
        persistUntilSeconds.map { Date(timeIntervalSince1970: TimeInterval($0)) }
    }

    /// Whether the issuer domain name is one of `issuerNames` (lowercase A-labels, §3.1).
    public func names(issuerIn issuerNames: [String]) -> Bool {
        let issuer = Self.asciiLowercased(issuer)
        return issuerNames.contains { Self.asciiLowercased($0) == issuer }
    }

    /// Whether the record names one of `accountURIs`, exactly.
    public func names(accountIn accountURIs: [String]) -> Bool {
        guard let accountURI else { return false }
        return accountURIs.contains(accountURI)
    }

    /// What the record says about issuing for `name` to an account of a CA.
    public enum Verdict: Sendable, Hashable, Codable, CustomStringConvertible {
        case authorizes
        /// The issuer domain name is not one of the CA's.
        case otherIssuer(String)
        /// No `accounturi` parameter: the CA rejects the record as malformed.
        case noAccount
        /// The account is another one.
        case otherAccount(String)
        /// `persistUntil` has passed (or passes within the margin the caller gave).
        case expired(Date)
        /// A wildcard or subdomain needs `policy=wildcard`.
        case needsWildcardPolicy
        /// The name is not the validated name nor below it.
        case outOfScope

        public var description: String {
            switch self {
            case .authorizes: return "authorizes this CA and account"
            case .otherIssuer(let issuer): return "names another CA (\(UntrustedText.clip(issuer, limit: 80)))"
            case .noAccount: return "has no accounturi, so the CA rejects it as malformed"
            case .otherAccount(let account): return "names another account (\(UntrustedText.clip(account, limit: 120)))"
            case .expired(let date): return "expired at \(date.formatted(.iso8601)) (persistUntil)"
            case .needsWildcardPolicy: return "lacks policy=wildcard, which a wildcard or subdomain needs"
            case .outOfScope: return "is for another name"
            }
        }
    }

    /// Whether the record, found at `_validation-persist.<validatedName>`, lets the CA named by
    /// `issuerNames` issue for `name` (a wildcard when `wildcard` or when `name` starts with "*.")
    /// to the account `accountURIs` names. `validatedName` defaults to `name`'s base; a `name`
    /// below it needs `policy=wildcard` (§6.1), and so does a wildcard (§5.1). `now` is when
    /// the CA will look: pass a later time to require a margin before `persistUntil`.
    public func verdict(name: String, wildcard: Bool = false, validatedName: String? = nil, issuerNames: [String],
                        accountURIs: [String], now: Date) -> Verdict {
        guard names(issuerIn: issuerNames) else { return .otherIssuer(issuer) }
        guard let accountURI else { return .noAccount }
        guard names(accountIn: accountURIs) else { return .otherAccount(accountURI) }
        if let seconds = persistUntilSeconds, now.timeIntervalSince1970 > Double(seconds) {
            return .expired(Date(timeIntervalSince1970: TimeInterval(seconds)))
        }
        let canonical = DomainName.canonical(name)
        let base = DomainName.base(of: canonical)
        let wildcard = wildcard || DomainName.isWildcard(canonical)
        let validated = validatedName.map(DomainName.canonical) ?? base
        guard DomainName.isSubdomain(base, of: validated), !validated.isEmpty else { return .outOfScope }
        if (wildcard || base != validated) && !allowsWildcard { return .needsWildcardPolicy }
        return .authorizes
    }

    /// `verdict(...) == .authorizes` for one account URL.
    public func authorizes(name: String, wildcard: Bool = false, validatedName: String? = nil, issuerNames: [String],
                           accountURL: String, now: Date = Date()) -> Bool {
        verdict(name: name, wildcard: wildcard, validatedName: validatedName, issuerNames: issuerNames,
                accountURIs: [accountURL], now: now) == .authorizes
    }

    /// `_validation-persist.<name>`, for an identifier ("*.example.com" has the name
    /// "example.com", §5).
    public static func validationName(for identifier: String) -> String {
        "\(label).\(DomainName.base(of: DomainName.canonical(identifier)))"
    }

    /// draft-ietf-acme-dns-persist-02 §4.1: the hashed account URI,
    /// `<prefix>sha-256/<base64url(SHA-256(len(domain) || domain || thumbprint || accountURL))>`,
    /// with `domain` the validated name or "*" (the same for every name). nil for a domain longer
    /// than 255 octets.
    public static func hashedAccountURI(prefix: String, domain: String, thumbprint: String, accountURL: String) -> String? {
        let domain = domain == "*" ? domain : DomainName.canonical(domain)
        let domainBytes = Array(domain.utf8)
        guard domainBytes.count <= 255 else { return nil }
        let input = [UInt8(domainBytes.count)] + domainBytes + Array(thumbprint.utf8) + Array(accountURL.utf8)
        let digest = Data(SHA256.hash(data: input)).base64EncodedString()
            .replacing("+", with: "-").replacing("/", with: "_")
            .replacing("=", with: "")
        return "\(prefix)sha-256/\(digest)"
    }

    /// RFC 8659 §4.2 `value`: %x21-3A / %x3C-7E.
    static func isValueCharacter(_ scalar: Unicode.Scalar) -> Bool {
        (0x21...0x7E).contains(scalar.value) && scalar != ";"
    }

    static func isBase10(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    /// Without the spaces and tabs around it (RFC 8659 §4.2 `WSP`).
    static func trimmed(_ scalars: Substring.UnicodeScalarView) -> String {
        guard let start = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }),
              let end = scalars.lastIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        return String(scalars[start...end])
    }

    /// A-Z to a-z only: tags and names compare as ASCII (RFC 8659 §4.2, draft §3.1), so no
    /// Unicode case mapping can turn another name into the CA's.
    static func asciiLowercased(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
            ("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32) ?? scalar : scalar
        }))
    }
}
