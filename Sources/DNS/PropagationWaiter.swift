/// What must be visible: all `values` at `name` on every one of `nameservers`.
public struct PropagationCheck: Sendable, Hashable {
    public var name: String
    public var values: Set<String>
    public var nameservers: [Nameserver]

    public init(name: String, values: Set<String>, nameservers: [Nameserver]) {
        self.name = DomainName.canonical(name)
        self.values = values
        self.nameservers = nameservers
    }
}

/// A (nameserver, name) pair still waited for.
public struct PendingRecord: Sendable, Hashable {
    public var nameserver: Nameserver
    public var name: String
    public var missing: Set<String>
    /// The TXT values the server served at the name in its last answer.
    public var served: [String]
    /// Why the last query failed (no answer, REFUSED, SERVFAIL …), if it did.
    public var lastError: String?
}

/// Progress of a wait, for the CLI to show.
public enum PropagationEvent: Sendable {
    /// After each polling round.
    case round(pending: [PendingRecord], satisfied: Int, total: Int)
    /// A pair became satisfied.
    case visible(name: String, nameserver: Nameserver)
}

/// Waits until every authoritative server serves every expected value, asking each server
/// directly with recursion off. The first round goes out at once; then one round every
/// `pollInterval`; all queries of a round run concurrently; a satisfied pair is not asked again.
public struct PropagationWaiter: Sendable {
    let client: DNSClient
    let pollInterval: Duration
    let options: QueryOptions

    public init(client: DNSClient = .init(), pollInterval: Duration = .seconds(1),
                options: QueryOptions = .init(timeout: .seconds(2), retries: 0, recursionDesired: false)) {
        self.client = client
        self.pollInterval = pollInterval
        self.options = options
    }

    /// Returns when every pair is satisfied; throws `DNSError(.propagationTimeout)` at `deadline`
    /// naming each pending server and name, the values missing and what was served instead.
    /// Cancellation ends the wait with `CancellationError`.
    public func wait(for checks: [PropagationCheck], deadline: ContinuousClock.Instant,
                     progress: (@Sendable (PropagationEvent) -> Void)? = nil) async throws {
        var pending: [PairKey: PendingRecord] = [:]
        var expected: [PairKey: Set<String>] = [:]
        for check in checks {
            for server in check.nameservers {
                let key = PairKey(nameserver: server, name: check.name)
                expected[key, default: []].formUnion(check.values)
                pending[key] = PendingRecord(nameserver: server, name: check.name, missing: expected[key]!, served: [], lastError: nil)
            }
        }
        let total = pending.count
        while !pending.isEmpty {
            try Task.checkCancellation()
            let roundStart = ContinuousClock.now
            var queryOptions = options
            let left = deadline - roundStart
            if left < queryOptions.timeout { queryOptions.timeout = max(left, .milliseconds(200)) }
            let results = await poll(Array(pending.keys), options: queryOptions)
            try Task.checkCancellation()
            for (key, outcome) in results {
                guard var record = pending[key], let wanted = expected[key] else { continue }
                switch outcome {
                case .served(let values):
                    record.served = values
                    record.missing = wanted.subtracting(values)
                    record.lastError = nil
                case .failed(let reason):
                    record.lastError = reason
                }
                if record.missing.isEmpty && record.lastError == nil {
                    pending[key] = nil
                    progress?(.visible(name: key.name, nameserver: key.nameserver))
                } else {
                    pending[key] = record
                }
            }
            // Sorted by name, then server; each server's text made once, not per comparison.
            let list = pending.values.map { ($0, $0.nameserver.description) }
                .sorted { ($0.0.name, $0.1) < ($1.0.name, $1.1) }.map(\.0)
            progress?(.round(pending: list, satisfied: total - pending.count, total: total))
            if pending.isEmpty { return }
            let now = ContinuousClock.now
            if now >= deadline { throw timeoutError(list, total: total) }
            let next = min(roundStart + pollInterval, deadline)
            if next > now { try await Task.sleep(until: next, clock: .continuous) }
        }
    }

    struct PairKey: Hashable, Sendable {
        var nameserver: Nameserver
        var name: String
    }

    enum Outcome: Sendable {
        case served([String])
        case failed(String)
    }

    private func poll(_ keys: [PairKey], options: QueryOptions) async -> [(PairKey, Outcome)] {
        await withTaskGroup(of: (PairKey, Outcome).self) { group in
            for key in keys {
                group.addTask {
                    do {
                        let response = try await client.query(key.name, type: "TXT", server: key.nameserver.address, options: options)
                        switch response.rcode {
                        case "NOERROR", "NXDOMAIN":
                            if response.rcode == "NOERROR" && !response.authoritative && response.answer.isEmpty
                                && response.authority.contains(where: { $0.type == "NS" }) {
                                return (key, .failed("a referral instead of an authoritative answer (not authoritative for the zone)"))
                            }
                            return (key, .served(response.answers("TXT", at: key.name).map(\.data)))
                        default:
                            return (key, .failed("answered \(response.rcode)"))
                        }
                    } catch let error as DNSError {
                        return (key, .failed(error.code == .timeout ? "no answer within \(options.timeout)" : error.message))
                    } catch {
                        return (key, .failed("\(error)"))
                    }
                }
            }
            var results: [(PairKey, Outcome)] = []
            for await result in group { results.append(result) }
            return results
        }
    }

    private func timeoutError(_ pending: [PendingRecord], total: Int) -> DNSError {
        let shown = pending.prefix(5).map { record -> String in
            let missing = record.missing.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            let got: String
            if let error = record.lastError {
                got = error
            } else if record.served.isEmpty {
                got = "served no TXT there"
            } else {
                got = "served " + record.served.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            }
            return "\(record.nameserver) lacks \(missing.isEmpty ? "an answer" : missing) at \(record.name) (\(got))"
        }
        var text = shown.joined(separator: "; ")
        if pending.count > 5 { text += "; and \(pending.count - 5) more" }
        return DNSError(.propagationTimeout,
                        "Timed out waiting for the challenge records at \(pending.count) of \(total) nameserver/name pair(s): \(text).",
                        server: pending.first?.nameserver.address, name: pending.first?.name)
    }
}
