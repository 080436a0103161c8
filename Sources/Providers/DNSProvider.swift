import DNS

/// A way of writing `_acme-challenge` TXT values into a zone.
///
/// STYLE.md 2, "present fast, wait apart": `present` and `cleanup` only write. Each call gets
/// every record of one zone at once, so a provider that can batch (one RFC 2136 UPDATE, one zone
/// file write, one hook call) does. Waiting for propagation is the propagation waiter's job.
public protocol DNSProvider: Sendable {
    /// The provider's name in the config (`[[provider]] name`).
    var name: String { get }
    /// The provider's type (`rfc2136`, `shell`, `zonefile`).
    var type: String { get }
    /// The zones this provider serves; the longest suffix match of a record's name wins.
    var zones: [String] { get }

    /// The credentials this provider holds (an API token, a TSIG secret, secret `env` values): what
    /// a `Redactor` takes out of any text a provider, hook or bridge returns.
    var secretValues: [String] { get }

    /// Adds exactly these TXT values; other values at the same names stay.
    func present(_ records: [TXTRecord], zone: String) async throws
    /// Removes exactly these TXT values; other values at the same names stay.
    func cleanup(_ records: [TXTRecord], zone: String) async throws
}

extension DNSProvider {
    public var secretValues: [String] { [] }

    /// "provider 'bind' (rfc2136)", the prefix of every error this provider raises.
    public var label: String { "provider '\(name)' (\(type))" }
}

extension Collection where Element == TXTRecord {
    /// The records' names for a message: sorted, at most three, "and N more".
    var nameList: String {
        let all = Array(Set(map(\.name))).sorted()
        return all.prefix(3).joined(separator: ", ") + (all.count > 3 ? " and \(all.count - 3) more" : "")
    }
}
