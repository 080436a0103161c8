import ACME

/// The DNS challenge types dns01 solves (`[[certificate]] challenge`).
public enum ChallengeKind: String, Sendable, CaseIterable, Codable {
    /// RFC 8555 §8.4: a fresh TXT value at `_acme-challenge.<domain>` for every authorization.
    case dns01 = "dns-01"
    /// draft-ietf-acme-dns-account-label: the dns-01 value at an account-specific label,
    /// `_<label>._acme-challenge.<domain>`, so several accounts can validate one name at once.
    case dnsAccount01 = "dns-account-01"
    /// draft-ietf-acme-dns-persist (CA/B ballot SC-088): a standing TXT record at
    /// `_validation-persist.<domain>` naming the CA and the account; nothing is written per order.
    case dnsPersist01 = "dns-persist-01"

    /// What the challenge's record name puts before the validated name, as shown to users, and
    /// its length in octets (the dot included).
    public var recordPrefix: (text: String, octets: Int) {
        switch self {
        case .dns01: ("_acme-challenge.", 16)
        case .dnsAccount01: ("_<account label>._acme-challenge.", DNSAccountLabel.octets + 1 + 16)
        case .dnsPersist01: (PersistRecord.label + ".", PersistRecord.label.utf8.count + 1)
        }
    }
}
