/// Why a server turned an RFC 2136 UPDATE down, in words that name every cause the answer can
/// have. Servers differ: BIND answers an unknown key with NOTAUTH + TSIG BADKEY and a policy
/// denial with REFUSED; Knot answers an ACL denial with NOTAUTH + BADKEY as well; PowerDNS
/// answers a bad signature with plain REFUSED. So one answer may have several causes, and the
/// sentence names them all rather than guess one.
enum UpdateRefusal {
    /// The part after "DNS server S ", for an update of `zone` signed with `keyName` (nil:
    /// unsigned). `tsigError` is the TSIG error field (RFC 8945 §5.2, §4.3) when not 0.
    static func reason(rcode: String, tsigError: UInt16?, zone: String, keyName: String?) -> String {
        let subject = "an update of zone \(zone)"
        let key = keyName.map { "TSIG key '\($0)'" } ?? "the TSIG key"
        if let tsigError, tsigError != 0 {
            switch tsigError {
            case 16:
                return "rejected the signature of \(key) on \(subject) (BADSIG): the key's secret differs from the server's"
            case 17:
                return "rejected \(key) for \(subject) (BADKEY): the server has no key of that name and algorithm, or (Knot) its ACL does not let this key update the zone"
            case 18:
                return "rejected the time in the signature of \(key) on \(subject) (BADTIME): the clocks differ by more than the allowed fudge (5 minutes)"
            default:
                return "rejected the signature of \(key) on \(subject) (TSIG error \(tsigError))"
            }
        }
        switch rcode {
        case "REFUSED":
            guard keyName != nil else {
                return "refused \(subject) (REFUSED): no TSIG key is configured, and the server takes no unsigned updates for the zone"
            }
            return "refused \(subject) (REFUSED): \(key) is not allowed to update this name (BIND allow-update / update-policy, Knot ACL, PowerDNS TSIG-ALLOW-DNSUPDATE), or its secret is wrong (PowerDNS answers a bad signature this way)"
        case "NOTAUTH":
            return "answered \(subject) with NOTAUTH: it is not authoritative (primary) for zone \(zone), or it did not accept \(key)"
        case "NOTZONE":
            return "answered \(subject) with NOTZONE: a record lies outside zone \(zone)"
        case "SERVFAIL":
            return "failed on \(subject) (SERVFAIL): the server could not apply it (see its log; a journal or zone file it cannot write, or the zone is not loaded)"
        default:
            return "answered \(subject) with \(rcode)"
        }
    }
}
