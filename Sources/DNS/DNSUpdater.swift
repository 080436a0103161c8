import Blocking

/// RFC 2136 dynamic update with TSIG, through libldns.
public struct DNSUpdater: Sendable {
    public var timeout: Duration

    public init(client: DNSClient = .init(), timeout: Duration = .seconds(5)) {
        self.timeout = timeout
    }

    /// Sends the UPDATE for `zone` to `server` (one message unless it would exceed the DNS
    /// message size): deletes of exact values (RFC 2136 §2.5.4, never
    /// the RRset) and adds (§2.5.1), signed with `key`. A refusal, a TSIG failure or silence
    /// throws a `DNSError` that says which, naming server, zone and key — never the secret.
    public func update(zone: String, server: DNSServer, key: TSIGKey?, add: [TXTRecord], delete: [TXTRecord]) async throws {
        let zone = DomainName.canonical(zone)
        guard !add.isEmpty || !delete.isEmpty else { return }
        for record in add + delete where !DomainName.isSubdomain(record.name, of: zone) {
            throw DNSError(.invalidName, "\(record.name) is not in zone \(zone), so an update of that zone cannot hold it.", name: record.name)
        }
        // A DNS message holds at most 65,535 octets: a large batch goes as several UPDATEs,
        // each atomic on its own, in order (deletes first, as within one message).
        var chunk: [(record: TXTRecord, deleting: Bool)] = []
        var size = 0
        for item in delete.map({ ($0, true) }) + add.map({ ($0, false) }) {
            let cost = Self.wireSize(item.0)
            if !chunk.isEmpty && size + cost > Self.messageBudget {
                try await send(zone: zone, server: server, key: key, chunk, size: size)
                chunk = []
                size = 0
            }
            chunk.append(item)
            size += cost
        }
        try await send(zone: zone, server: server, key: key, chunk, size: size)
    }

    /// Octets of update records per message, well below the 65,535 limit (room for the header,
    /// the zone section and TSIG, and for servers with smaller limits).
    static let messageBudget = 16_000

    /// Octets a record takes in an UPDATE, uncompressed: owner, type, class, TTL, rdlength, and
    /// the value as character-strings of at most 255 octets.
    static func wireSize(_ record: TXTRecord) -> Int {
        let value = record.value.utf8.count
        return record.name.utf8.count + 2 + 10 + value + max(1, (value + 254) / 255)
    }

    /// One UPDATE message; `size` is the records' wire size.
    private func send(zone: String, server: DNSServer, key: TSIGKey?, _ records: [(record: TXTRecord, deleting: Bool)], size: Int) async throws {
        let timeout = self.timeout
        let add = records.filter { !$0.deleting }.map(\.record), delete = records.filter(\.deleting).map(\.record)
        // Like nsupdate: TCP once the message outgrows a classic 512-octet UDP datagram.
        let tcp = 12 + zone.utf8.count + 6 + size > 512
        let exchange = await BlockingPool.shared.run {
            LDNS.update(zone: zone, server: server, key: key, add: add, delete: delete, timeout: timeout, tcp: tcp)
        }
        let subject = "an update of zone \(zone)"
        guard let response = exchange.response else {
            if exchange.timedOut {
                throw DNSError(.timeout, "DNS server \(server) did not answer \(subject) within \(timeout).", server: server, name: zone)
            }
            throw DNSError(.network, "Could not send \(subject) to DNS server \(server): \(exchange.failure ?? "no response").", server: server, name: zone)
        }
        if response.rcode == "NOERROR" && (exchange.tsigError ?? 0) == 0 {
            guard exchange.signatureValid else {
                throw DNSError(.tsig, "The answer of DNS server \(server) to \(subject) carries a TSIG signature that does not verify with key '\(key?.name ?? "")'.",
                               server: server, name: zone, rcode: response.rcode)
            }
            return
        }
        let code: DNSError.Code = (exchange.tsigError ?? 0) != 0 ? .tsig : .rcode
        let reason = UpdateRefusal.reason(rcode: response.rcode, tsigError: exchange.tsigError, zone: zone, keyName: key?.name)
        throw DNSError(code, "DNS server \(server) \(reason).", server: server, name: zone, rcode: response.rcode)
    }
}
