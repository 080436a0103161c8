import DNS

/// The record IDs this process created, by record: what cleanup deletes without a lookup, for
/// hosts that keep one ID per TXT value (DigitalOcean, OVH).
actor RecordIDs<ID: Sendable> {
    private var created: [TXTRecord: [ID]] = [:]
    func remember(_ record: TXTRecord, id: ID) { created[record, default: []].append(id) }
    func forget(_ record: TXTRecord) -> [ID] { created.removeValue(forKey: record) ?? [] }
}
