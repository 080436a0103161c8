import DNS
import Providers

/// The names a certificate is for, checked before anything is sent anywhere.
public enum IdentifierList {
    /// Validates and normalizes every name (lowercase, no trailing dot, internationalized names
    /// in A-label form: `bücher.example` → `xn--bcher-kva.example`), drops duplicates, keeps the
    /// order given. A bad name is a usage error (exit 2) naming it, and so is a name too long
    /// for the record of `challenge` (nil: dns-01's, which every order may fall back to) to
    /// be written: refused before any order is made.
    public static func normalize(_ names: [String], challenge: ChallengeKind? = nil) throws -> [String] {
        guard !names.isEmpty else { throw UsageError("No names given: use -d NAME at least once.", code: .invalidArgument) }
        var seen = Set<String>()
        var result: [String] = []
        for name in names {
            let normalized: String
            do {
                normalized = try DomainName.normalizeIDN(name, allowWildcard: true)
                try requireRoom(normalized, challenge: challenge)
            } catch let error as DNSError {
                throw UsageError(error.message)
            }
            if seen.insert(normalized).inserted { result.append(normalized) }
        }
        return result
    }

    /// Throws unless `challenge`'s record (nil: dns-01's) fits before `name`.
    public static func requireRoom(_ name: String, challenge: ChallengeKind?) throws {
        let prefix = (challenge ?? .dns01).recordPrefix
        try DomainName.requireRoom(forPrefix: prefix.text, octets: prefix.octets, before: name)
    }

    /// certbot's habit: a lineage is named after its first name, without a wildcard label.
    public static func defaultCertName(for names: [String]) -> String {
        let first = names.first ?? "certificate"
        return DomainName.base(of: first)
    }
}
