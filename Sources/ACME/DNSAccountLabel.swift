import Crypto
import FoundationEssentials
import Glibc

/// The account label of the dns-account-01 challenge (draft-ietf-acme-dns-account-label §3.1):
/// "_" followed by the lowercase base32 (RFC 4648 §6, no padding) of the first 10 octets of
/// SHA-256 of the account URL, exactly as the CA gave it (the `kid`, the Location of
/// newAccount). Every client of one account computes the same label and every account a
/// different one, so several ACME clients can validate one name side by side, each with its
/// own static CNAME.
///
/// The challenge record is `_<label>._acme-challenge.<domain>`, a TXT record holding the same
/// value as dns-01 (`KeyAuthorization.dns01Value`, RFC 8555 §8.4). As with dns-01, a
/// wildcard's authorization names the base domain (RFC 8555 §7.1.4), so `*.example.com` and
/// `example.com` are validated at the same name, with two values side by side.
public struct DNSAccountLabel: Sendable, Hashable, CustomStringConvertible {
    /// "_ujmmovf2vn55tgye": an underscore and 16 characters, a valid DNS label.
    public let label: String
    /// The octets of every label: "_" and the base32 of 10 octets.
    public static let octets = 17

    public init(accountURL: String) {
        let digest = SHA256.hash(data: Data(accountURL.utf8))
        label = "_" + Base32.lowercaseUnpadded(digest.prefix(10))
    }

    /// `_<label>._acme-challenge.<domain>` for an identifier: lowercased, without a trailing
    /// dot, and "*.x" validated at "x".
    public func challengeName(for identifier: String) -> String {
        var base = identifier.lowercased()
        if base.hasSuffix(".") { base.removeLast() }
        if base.hasPrefix("*.") { base.removeFirst(2) }
        return label + "._acme-challenge." + base
    }

    public var description: String { label }
}

extension ACMEClient {
    /// This account's dns-account-01 label; throws while no account URL is known.
    public func dnsAccountLabel() throws -> DNSAccountLabel {
        DNSAccountLabel(accountURL: try requireAccountURL())
    }
}
