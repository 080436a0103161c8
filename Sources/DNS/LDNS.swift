internal import CLDNS
import Clocks
import FoundationEssentials
import Glibc

/// The libldns calls of this module, in one place. Everything here runs on a `BlockingPool`
/// thread; every ldns object is freed before the function returns.
enum LDNS {
    /// What one exchange with one server produced.
    struct Exchange {
        var response: DNSResponse?
        /// The TSIG error field of the response's TSIG record (RFC 8945 §5.3), when it has one.
        var tsigError: UInt16?
        /// False when the response carried a TSIG signature that did not verify.
        var signatureValid: Bool
        /// The ldns status when no usable response came back.
        var failure: String?
        var timedOut: Bool
    }

    /// Sends a query for `name`/`type` to `server` once.
    static func query(_ name: String, type: String, server: DNSServer, timeout: Duration, recursionDesired: Bool) -> Exchange {
        guard let owner = ldns_dname_new_frm_str(absolute(name)) else {
            return Exchange(response: nil, tsigError: nil, signatureValid: true, failure: "cannot encode name \(name)", timedOut: false)
        }
        let rrType = ldns_get_rr_type_by_name(type)
        guard let packet = ldns_pkt_query_new(owner, rrType, LDNS_RR_CLASS_IN, 0) else {
            return Exchange(response: nil, tsigError: nil, signatureValid: true, failure: "out of memory", timedOut: false)
        }
        defer { ldns_pkt_free(packet) }
        ldns_pkt_set_rd(packet, flag(recursionDesired))
        ldns_pkt_set_edns_udp_size(packet, 1232)
        ldns_pkt_set_random_id(packet)
        return send(packet, to: server, timeout: timeout, key: nil)
    }

    /// Sends one RFC 2136 UPDATE for `zone` (RFC 2136 §2.5): deletes of exact values in class
    /// NONE with TTL 0 (§2.5.4), adds in class IN (§2.5.1), signed with `key` when given.
    static func update(zone: String, server: DNSServer, key: TSIGKey?, add: [TXTRecord], delete: [TXTRecord], timeout: Duration, tcp: Bool) -> Exchange {
        let updates = ldns_rr_list_new()
        defer { ldns_rr_list_deep_free(updates) }
        for record in delete { ldns_rr_list_push_rr(updates, txt(record, deleting: true)) }
        for record in add { ldns_rr_list_push_rr(updates, txt(record, deleting: false)) }
        guard let zoneName = ldns_dname_new_frm_str(absolute(zone)),
              let packet = ldns_update_pkt_new(zoneName, LDNS_RR_CLASS_IN, nil, updates, nil) else {
            return Exchange(response: nil, tsigError: nil, signatureValid: true, failure: "cannot build the UPDATE for zone \(zone)", timedOut: false)
        }
        defer { ldns_pkt_free(packet) }
        ldns_pkt_set_rd(packet, flag(false))
        ldns_pkt_set_random_id(packet)
        return send(packet, to: server, timeout: timeout, key: key, tcp: tcp)
    }

    /// Builds a TXT record whose rdata is the value as raw character-strings of at most 255
    /// octets each (RFC 1035 §3.3.14), so any value round-trips byte for byte.
    private static func txt(_ record: TXTRecord, deleting: Bool) -> UnsafeMutablePointer<ldns_rr>? {
        guard let rr = ldns_rr_new() else { return nil }
        ldns_rr_set_owner(rr, ldns_dname_new_frm_str(absolute(record.name)))
        ldns_rr_set_type(rr, LDNS_RR_TYPE_TXT)
        ldns_rr_set_class(rr, deleting ? LDNS_RR_CLASS_NONE : LDNS_RR_CLASS_IN)
        ldns_rr_set_ttl(rr, deleting ? 0 : record.ttl)
        let bytes = Array(record.value.utf8)
        var start = 0
        repeat {
            let chunk = bytes[start..<min(start + 255, bytes.count)]
            let wire = [UInt8(chunk.count)] + chunk
            wire.withUnsafeBufferPointer { buffer in
                _ = ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, buffer.count, buffer.baseAddress))
            }
            start += 255
        } while start < bytes.count
        return rr
    }

    private static func send(_ packet: UnsafeMutablePointer<ldns_pkt>, to server: DNSServer, timeout: Duration, key: TSIGKey?, tcp: Bool = false) -> Exchange {
        guard let resolver = ldns_resolver_new() else {
            return Exchange(response: nil, tsigError: nil, signatureValid: true, failure: "out of memory", timedOut: false)
        }
        defer { ldns_resolver_deep_free(resolver) }
        guard let address = ldns_rdf_new_frm_str(server.isIPv6 ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, server.host) else {
            return Exchange(response: nil, tsigError: nil, signatureValid: true, failure: "bad address \(server.host)", timedOut: false)
        }
        _ = ldns_resolver_push_nameserver(resolver, address)
        ldns_rdf_deep_free(address)
        ldns_resolver_set_port(resolver, server.port)
        ldns_resolver_set_random(resolver, flag(false))
        ldns_resolver_set_retry(resolver, 1)
        ldns_resolver_set_retrans(resolver, 0)
        ldns_resolver_set_fallback(resolver, flag(true))
        ldns_resolver_set_usevc(resolver, flag(tcp))
        ldns_resolver_set_recursive(resolver, ldns_pkt_rd(packet))
        let microseconds = timeout.wholeMicroseconds
        ldns_resolver_set_timeout(resolver, timeval(tv_sec: Int(microseconds / 1_000_000), tv_usec: Int(microseconds % 1_000_000)))
        if let key {
            ldns_resolver_set_tsig_keyname(resolver, absolute(key.name))
            ldns_resolver_set_tsig_algorithm(resolver, key.ldnsAlgorithm)
            ldns_resolver_set_tsig_keydata(resolver, key.secret)
            let status = ldns_update_pkt_tsig_add(packet, resolver)
            guard status == LDNS_STATUS_OK else {
                return Exchange(response: nil, tsigError: nil, signatureValid: true,
                                failure: "cannot sign with key '\(key.name)': \(errorString(status))", timedOut: false)
            }
        }
        let started = ContinuousClock.now
        var answer: UnsafeMutablePointer<ldns_pkt>?
        // Signed messages go through ldns_send, which keeps the reply when its TSIG does not
        // verify (ldns_resolver_send_pkt drops it), so a BADSIG/BADKEY answer can be reported.
        let status = key == nil ? ldns_resolver_send_pkt(&answer, resolver, packet) : ldns_send(&answer, resolver, packet)
        guard let answer else {
            let elapsed = ContinuousClock.now - started
            return Exchange(response: nil, tsigError: nil, signatureValid: true, failure: errorString(status),
                            timedOut: elapsed >= timeout * 0.9)
        }
        defer { ldns_pkt_free(answer) }
        var tsigError: UInt16?
        if let tsig = ldns_pkt_tsig(answer), ldns_rr_rd_count(tsig) > 5 {
            tsigError = ldns_rdf2native_int16(ldns_rr_rdf(tsig, 5))
        }
        let signatureValid = status != LDNS_STATUS_CRYPTO_TSIG_BOGUS
        if status != LDNS_STATUS_OK && signatureValid {
            return Exchange(response: nil, tsigError: tsigError, signatureValid: true, failure: errorString(status), timedOut: false)
        }
        return Exchange(response: response(answer), tsigError: tsigError, signatureValid: signatureValid, failure: nil, timedOut: false)
    }

    private static func response(_ packet: UnsafeMutablePointer<ldns_pkt>) -> DNSResponse {
        DNSResponse(rcode: rcodeName(ldns_pkt_get_rcode(packet)),
                    authoritative: ldns_pkt_aa(packet) != 0,
                    answer: records(ldns_pkt_answer(packet)),
                    authority: records(ldns_pkt_authority(packet)),
                    additional: records(ldns_pkt_additional(packet)))
    }

    private static func records(_ list: UnsafeMutablePointer<ldns_rr_list>?) -> [DNSRecord] {
        guard let list else { return [] }
        return (0..<ldns_rr_list_rr_count(list)).compactMap { index in
            ldns_rr_list_rr(list, index).map(record)
        }
    }

    private static func record(_ rr: UnsafeMutablePointer<ldns_rr>) -> DNSRecord {
        let type = ldns_rr_get_type(rr)
        let count = ldns_rr_rd_count(rr)
        let fields = (0..<count).compactMap { ldns_rr_rdf(rr, $0) }
        let data: String
        switch type {
        case LDNS_RR_TYPE_TXT:
            var bytes: [UInt8] = []
            for field in fields {
                let size = ldns_rdf_size(field)
                guard size > 0, let start = ldns_rdf_data(field) else { continue }
                bytes += UnsafeBufferPointer(start: start + 1, count: min(Int(start[0]), size - 1))
            }
            data = String(decoding: bytes, as: UTF8.self)
        case LDNS_RR_TYPE_NS, LDNS_RR_TYPE_CNAME:
            data = DomainName.canonical(fields.first.map(text) ?? "")
        default:
            data = fields.map(text).joined(separator: " ")
        }
        return DNSRecord(name: DomainName.canonical(text(ldns_rr_owner(rr))),
                         type: take(ldns_rr_type2str(type)) ?? "TYPE\(type.rawValue)",
                         ttl: ldns_rr_ttl(rr), data: data)
    }

    private static func text(_ rdf: UnsafeMutablePointer<ldns_rdf>?) -> String {
        guard let rdf else { return "" }
        return take(ldns_rdf2str(rdf)) ?? ""
    }

    /// Copies and frees a string ldns allocated.
    private static func take(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }

    static func rcodeName(_ rcode: ldns_pkt_rcode) -> String {
        take(ldns_pkt_rcode2str(rcode)) ?? "RCODE\(rcode.rawValue)"
    }

    static func errorString(_ status: ldns_status) -> String {
        ldns_get_errorstr_by_id(status).map { String(cString: $0) } ?? "ldns error \(status.rawValue)"
    }

    /// ldns's `bool` is a signed char.
    private static func flag(_ value: Bool) -> Int8 { value ? 1 : 0 }

    static func absolute(_ name: String) -> String {
        name.hasSuffix(".") ? name : name + "."
    }

    /// Parses zone text with libldns; returns nil or (line, reason) of the first error.
    static func checkZone(_ text: String, origin: String) -> (line: Int, reason: String)? {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { bytes = [0x0a] }
        return bytes.withUnsafeMutableBufferPointer { buffer -> (Int, String)? in
            guard let file = fmemopen(buffer.baseAddress, buffer.count, "r") else { return (0, "cannot read the text") }
            defer { fclose(file) }
            let originName = ldns_dname_new_frm_str(absolute(origin))
            defer { ldns_rdf_deep_free(originName) }
            var zone: UnsafeMutablePointer<ldns_zone>?
            var line: Int32 = 0
            let status = ldns_zone_new_frm_fp_l(&zone, file, originName, 3600, LDNS_RR_CLASS_IN, &line)
            if let zone { ldns_zone_deep_free(zone) }
            return status == LDNS_STATUS_OK ? nil : (Int(line), errorString(status))
        }
    }
}
