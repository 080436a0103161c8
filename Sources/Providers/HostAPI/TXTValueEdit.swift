import DNS

/// What present and cleanup do to a name's values on hosts that replace whole RRsets (deSEC,
/// Gandi): add dns01's values to the others, or take exactly them out.
enum TXTValueEdit: Sendable {
    case add, remove

    /// `current` with `ours` added (each once, after the others) or removed.
    func apply(to current: [String], _ ours: [String]) -> [String] {
        switch self {
        case .add: current + ours.filter { !current.contains($0) }
        case .remove: current.filter { !ours.contains($0) }
        }
    }

    var code: ProviderError.Code { self == .add ? .present : .cleanup }
    var verb: String { self == .add ? "add" : "remove" }
}

extension DNSProvider {
    /// The records' values by name relative to `zone` (`apex` at its apex), each value once,
    /// quoted as one character-string where the host keeps them so, in name order.
    func valuesByName(_ records: [TXTRecord], zone: String, apex: String, quoted: Bool) -> [(name: String, values: [String])] {
        var grouped: [String: [String]] = [:]
        for record in records {
            let owner = record.name == zone ? apex : relativeName(record.name, zone: zone)
            let value = quoted ? "\"\(record.value)\"" : record.value
            if !(grouped[owner]?.contains(value) ?? false) { grouped[owner, default: []].append(value) }
        }
        return grouped.sorted { $0.key < $1.key }.map { (name: $0.key, values: $0.value) }
    }
}
