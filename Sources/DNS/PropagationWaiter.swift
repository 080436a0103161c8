import Clocks
/// What must be visible: all `values` at `name` on every one of `nameservers` (authoritative,
/// asked with recursion off) and then through every one of `resolvers` (recursive, asked with
/// recursion on, once every nameserver serves the values: a resolver asked earlier would cache
/// the negative answer for the zone's negative TTL, RFC 2308 §5). With `gone`, the opposite:
/// none of `values` is served any more (after a removal).
public struct PropagationCheck: Sendable, Hashable {
    public var name: String
    public var values: Set<String>
    public var nameservers: [Nameserver]
    public var resolvers: [DNSServer]
    /// Wait for the values to be gone rather than present.
    public var gone: Bool
    /// The zone `name` is in, when the caller knows it: a server with several names of one zone
    /// still to serve is asked the zone's SOA serial first, and the names only once it changed.
    public var zone: String?

    public init(name: String, values: Set<String>, nameservers: [Nameserver], resolvers: [DNSServer] = [], gone: Bool = false,
                zone: String? = nil) {
        self.name = DomainName.canonical(name)
        self.values = values
        self.nameservers = nameservers
        self.resolvers = resolvers
        self.gone = gone
        self.zone = zone.map(DomainName.canonical)
    }
}

/// A (nameserver, name) pair still waited for.
public struct PendingRecord: Sendable, Hashable {
    public var nameserver: Nameserver
    public var name: String
    /// The values still awaited: missing ones, or with `gone` the ones still served.
    public var missing: Set<String>
    /// Waiting for the values to be gone (`PropagationCheck.gone`).
    public var gone: Bool = false
    /// The TXT values the server served at the name in its last answer.
    public var served: [String]
    /// Why the last query failed (no answer, REFUSED, SERVFAIL …), if it did.
    public var lastError: String?
    /// The rcode of the last answer ("NOERROR", "NXDOMAIN").
    public var rcode: String?
    /// A recursive resolver (`also_check_resolvers`), not an authoritative server.
    public var recursive: Bool = false

    /// What the server said last, for progress lines: "answered NXDOMAIN", "served 1 of 2
    /// values", "no answer within 2 s"; nil before its first answer.
    public var lastAnswer: String? {
        if let lastError { return lastError }
        guard let rcode else { return nil }
        if rcode != "NOERROR" { return "answered \(rcode)" }
        if served.isEmpty { return "answered with no TXT" }
        return "served \(served.count) TXT value(s), \(missing.count) still missing"
    }
}

/// Progress of a wait, for the CLI to show.
public enum PropagationEvent: Sendable {
    /// After each polling round.
    case round(pending: [PendingRecord], satisfied: Int, total: Int)
    /// A pair became satisfied.
    case visible(name: String, nameserver: Nameserver)
}

/// One polling round of a wait: the element of `PropagationWaiter.rounds`.
public struct PropagationRound: Sendable {
    /// Names that became visible everywhere in this round: every server (and resolver) asked
    /// for the name now serves every value expected there.
    public var visible: Set<String>
    /// The pairs that became satisfied in this round.
    public var satisfiedPairs: [(name: String, nameserver: Nameserver)]
    /// What is still waited for, sorted by name, then server.
    public var pending: [PendingRecord]
    public var satisfied: Int
    public var total: Int
    /// The queries this round sent: TXT at the names, SOA at the zones asked serial first.
    public var queries: Int

    public init(visible: Set<String>, satisfiedPairs: [(name: String, nameserver: Nameserver)], pending: [PendingRecord],
                satisfied: Int, total: Int, queries: Int = 0) {
        self.visible = visible
        self.satisfiedPairs = satisfiedPairs
        self.pending = pending
        self.satisfied = satisfied
        self.total = total
        self.queries = queries
    }

    /// The round as progress events for the CLI: derived from the round, never driving it.
    public var events: [PropagationEvent] {
        satisfiedPairs.map { PropagationEvent.visible(name: $0.name, nameserver: $0.nameserver) }
            + [.round(pending: pending, satisfied: satisfied, total: total)]
    }
}

/// Waits until every authoritative server serves every expected value, asking each server
/// directly with recursion off. The first round goes out at once; then one round every
/// `pollInterval` on the injected clock; all queries of a round run concurrently; a satisfied
/// pair is not asked again.
///
/// Serial first: where a server still owes `serialFirstMinimum` or more names of one zone (the
/// check names the zone), a round asks it the zone's SOA serial before the names, and asks the
/// names only when the serial differs from the one read just before they were last asked: a
/// zone whose serial did not move did not change there. A server whose data changes without
/// its serial (a primary edited without one, an API with a fixed serial) is still asked every
/// `serialTrustInterval`, and once that finds a change under the same serial, every round.
public struct PropagationWaiter: Sendable {
    /// The fewest names of one zone still owed by one server for it to be asked the serial first:
    /// below it, the SOA query would cost as much as the names.
    public static let serialFirstMinimum = 4
    /// The longest a server's names go unasked while its zone's serial stays the same.
    public static let serialTrustInterval: Duration = .seconds(2)

    let client: DNSClient
    let pollInterval: Duration
    let options: QueryOptions
    let clock: any DeadlineClock

    public init(client: DNSClient = .init(), pollInterval: Duration = .seconds(1),
                options: QueryOptions = .init(timeout: .seconds(2), retries: 0, recursionDesired: false),
                clock: any DeadlineClock = SystemClock()) {
        self.client = client
        self.pollInterval = pollInterval
        self.options = options
        self.clock = clock
    }

    /// Returns when every pair is satisfied; throws `DNSError(.propagationTimeout)` at `deadline`
    /// naming each pending server and name, the values missing and what was served instead.
    /// Cancellation ends the wait with `CancellationError`.
    public func wait(for checks: [PropagationCheck], deadline: ContinuousClock.Instant,
                     progress: (@Sendable (PropagationEvent) -> Void)? = nil) async throws {
        for try await round in rounds(for: checks, deadline: deadline) {
            for event in round.events { progress?(event) }
        }
    }

    /// The wait as an asynchronous sequence of polling rounds, each saying which names became
    /// visible everywhere: a consumer acts on a name the moment it is visible while the wait for
    /// slower names goes on. The sequence ends after the round in which the last name became
    /// visible, or throws `DNSError(.propagationTimeout)` at `deadline`; it stops polling when
    /// its consumer stops iterating or is cancelled.
    public func rounds(for checks: [PropagationCheck], deadline: ContinuousClock.Instant) -> AsyncThrowingStream<PropagationRound, any Error> {
        let (stream, continuation) = AsyncThrowingStream<PropagationRound, any Error>.makeStream(bufferingPolicy: .unbounded)
        let task = Task {
            do {
                try await poll(checks, deadline: deadline) { continuation.yield($0) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private func poll(_ checks: [PropagationCheck], deadline: ContinuousClock.Instant,
                      emit: (PropagationRound) -> Void) async throws {
        var pending: [PairKey: PendingRecord] = [:]
        var expected: [PairKey: Set<String>] = [:]
        var zones: [String: String] = [:]
        for check in checks {
            if let zone = check.zone { zones[check.name] = zone }
            let servers = check.nameservers.map { ($0, false) } + check.resolvers.map { (Nameserver(name: "resolver", address: $0), true) }
            for (server, recursive) in servers {
                let key = PairKey(nameserver: server, name: check.name, recursive: recursive, gone: check.gone)
                expected[key, default: []].formUnion(check.values)
                pending[key] = PendingRecord(nameserver: server, name: check.name, missing: expected[key] ?? [], gone: check.gone,
                                             served: [], lastError: nil, recursive: recursive)
            }
        }
        let total = pending.count
        // Authoritative servers that serve every value at a name, for the timeout's diagnosis.
        var serving: [String: [Nameserver]] = [:]
        var waitingNames = Set(pending.keys.map(\.name))
        // A name no server is asked about (no nameservers given) is visible at once.
        let unchecked = Set(checks.map(\.name)).subtracting(waitingNames)
        if !unchecked.isEmpty || pending.isEmpty {
            emit(PropagationRound(visible: unchecked, satisfiedPairs: [], pending: [], satisfied: 0, total: total))
        }
        // Serial first: the serial each zone at a server had just before its names were last
        // asked, and the zones at servers whose data changed under an unchanged serial.
        var watches: [ZoneAtServer: SerialWatch] = [:]
        var untrusted: Set<ZoneAtServer> = []
        while !pending.isEmpty {
            try Task.checkCancellation()
            let roundStart = clock.now
            var queryOptions = options
            let left = deadline - roundStart
            if left < queryOptions.timeout { queryOptions.timeout = max(left, .milliseconds(200)) }
            // Resolvers only for names that every authoritative server serves already.
            let waitingAtAuthority = Set(pending.keys.filter { !$0.recursive }.map(\.name))
            let due = pending.keys.filter { !$0.recursive || !waitingAtAuthority.contains($0.name) }
            var ask: [PairKey] = []
            var groups: [ZoneAtServer: [PairKey]] = [:]
            for key in due {
                if !key.recursive, let zone = zones[key.name] {
                    groups[ZoneAtServer(nameserver: key.nameserver, zone: zone), default: []].append(key)
                } else {
                    ask.append(key)
                }
            }
            let serialFirst = groups.filter { $0.value.count >= Self.serialFirstMinimum && !untrusted.contains($0.key) }
            for (place, keys) in groups where serialFirst[place] == nil { ask += keys }
            // Asked again although the serial is the one they were last asked at (the interval
            // passed): a change found now means the serial does not follow the data there.
            var sameSerial: Set<ZoneAtServer> = []
            let read = await serials(Array(serialFirst.keys), options: queryOptions)
            for (place, keys) in serialFirst {
                let serial = read[place] ?? nil
                if let serial, let watch = watches[place], watch.serial == serial {
                    if roundStart - watch.askedAt < Self.serialTrustInterval { continue }
                    sameSerial.insert(place)
                }
                ask += keys
                watches[place] = serial.map { SerialWatch(serial: $0, askedAt: roundStart) }
            }
            let results = await poll(ask, options: queryOptions)
            try Task.checkCancellation()
            var satisfiedPairs: [(name: String, nameserver: Nameserver)] = []
            for (key, outcome) in results {
                guard var record = pending[key], let wanted = expected[key] else { continue }
                switch outcome {
                case .served(let rcode, let values):
                    if let zone = zones[key.name], case let place = ZoneAtServer(nameserver: key.nameserver, zone: zone),
                       sameSerial.contains(place), record.rcode != rcode || Set(record.served) != Set(values) {
                        untrusted.insert(place)
                    }
                    record.served = values
                    record.missing = key.gone ? wanted.intersection(values) : wanted.subtracting(values)
                    record.lastError = nil
                    record.rcode = rcode
                case .failed(let reason):
                    record.lastError = reason
                }
                if record.missing.isEmpty && record.lastError == nil {
                    pending[key] = nil
                    satisfiedPairs.append((key.name, key.nameserver))
                    if !key.recursive && !key.gone { serving[key.name, default: []].append(key.nameserver) }
                } else {
                    pending[key] = record
                }
            }
            let stillWaiting = Set(pending.keys.map(\.name))
            let visible = waitingNames.subtracting(stillWaiting)
            waitingNames = stillWaiting
            // Sorted by name, then server; each server's text made once, not per comparison.
            let list = pending.values.map { ($0, $0.nameserver.description) }
                .sorted { ($0.0.name, $0.0.recursive ? 1 : 0, $0.1) < ($1.0.name, $1.0.recursive ? 1 : 0, $1.1) }.map(\.0)
            emit(PropagationRound(visible: visible, satisfiedPairs: satisfiedPairs, pending: list,
                                  satisfied: total - pending.count, total: total, queries: serialFirst.count + ask.count))
            if pending.isEmpty { return }
            let now = clock.now
            if now >= deadline {
                let why = await diagnosis(list, serving: serving, options: queryOptions)
                throw timeoutError(list, total: total, diagnosis: why)
            }
            let next = min(roundStart + pollInterval, deadline)
            if next > now { try await clock.sleep(until: next) }
        }
    }

    struct PairKey: Hashable, Sendable {
        var nameserver: Nameserver
        var name: String
        var recursive: Bool
        var gone = false
    }

    enum Outcome: Sendable {
        case served(rcode: String, [String])
        case failed(String)
    }

    /// A zone at one nameserver address: where one SOA query stands for all its names.
    struct ZoneAtServer: Hashable, Sendable {
        var nameserver: Nameserver
        var zone: String
    }

    /// A zone's serial at a server just before its names were asked, and when.
    struct SerialWatch {
        var serial: UInt32
        var askedAt: ContinuousClock.Instant
    }

    /// Each zone's SOA serial at its server, asked at the apex at once; nil where the server
    /// gave none (no answer, not authoritative, another zone's SOA): its names are asked.
    private func serials(_ places: [ZoneAtServer], options: QueryOptions) async -> [ZoneAtServer: UInt32?] {
        guard !places.isEmpty else { return [:] }
        return await withTaskGroup(of: (ZoneAtServer, UInt32?).self) { group in
            for place in places {
                group.addTask {
                    guard let response = try? await client.query(place.zone, type: "SOA", server: place.nameserver.address, options: options),
                          response.rcode == "NOERROR", response.authoritative,
                          let found = ZoneSerial(response), DomainName.canonical(found.zone) == place.zone else {
                        return (place, nil)
                    }
                    return (place, found.serial)
                }
            }
            var serials: [ZoneAtServer: UInt32?] = [:]
            for await (place, serial) in group { serials[place] = serial }
            return serials
        }
    }

    private func poll(_ keys: [PairKey], options: QueryOptions) async -> [(PairKey, Outcome)] {
        await withTaskGroup(of: (PairKey, Outcome).self) { group in
            for key in keys {
                group.addTask {
                    do {
                        var options = options
                        options.recursionDesired = key.recursive
                        let response = try await client.query(key.name, type: "TXT", server: key.nameserver.address, options: options)
                        switch response.rcode {
                        case "NOERROR", "NXDOMAIN":
                            if !key.recursive && response.rcode == "NOERROR" && !response.authoritative && response.answer.isEmpty
                                && response.authority.contains(where: { $0.type == "NS" }) {
                                return (key, .failed("a referral instead of an authoritative answer (not authoritative for the zone)"))
                            }
                            return (key, .served(rcode: response.rcode, response.answers("TXT", at: key.name).map(\.data)))
                        default:
                            return (key, .failed("answered \(response.rcode)"))
                        }
                    } catch let error as DNSError {
                        return (key, .failed(error.code == .timeout ? "no answer within \(options.timeout)" : error.clause))
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

    private func timeoutError(_ pending: [PendingRecord], total: Int, diagnosis: [String] = []) -> DNSError {
        let shown = pending.prefix(5).map { record -> String in
            let missing = record.missing.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            let got: String
            if let error = record.lastError {
                got = error
            } else if record.rcode == nil {
                got = "not asked: the authoritative servers did not all serve the values"
            } else if record.rcode != "NOERROR" {
                got = "answered \(record.rcode ?? "")"
            } else if record.served.isEmpty {
                got = "served no TXT there"
            } else {
                got = "served " + record.served.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            }
            if record.gone {
                return "\(record.nameserver) \(missing.isEmpty ? "gave no answer" : "still serves \(missing)") at \(record.name)\(record.lastError.map { " (\($0))" } ?? "")"
            }
            return "\(record.nameserver) lacks \(missing.isEmpty ? "an answer" : missing) at \(record.name) (\(got))"
        }
        var text = shown.joined(separator: "; ")
        if pending.count > 5 { text += "; and \(pending.count - 5) more" }
        let why = diagnosis.map { " " + $0 + "." }.joined()
        return DNSError(.propagationTimeout,
                        "Timed out waiting for \(pending.allSatisfy(\.gone) ? "removed values to be gone" : "the challenge records") at \(pending.count) of \(total) nameserver/name pair(s): \(text).\(why)",
                        server: pending.first?.nameserver.address, name: pending.first?.name)
    }

    /// Why a secondary still lacks what another server of the zone serves, from the zone's SOA
    /// serial at each of them (asked once, at the timeout): the same serial means the primary
    /// changed the zone without changing its serial, so no secondary transfers the change; a
    /// lower one means the change is not being transferred. One sentence per cause; none when
    /// no server serves the values, or the serials explain nothing.
    func diagnosis(_ pending: [PendingRecord], serving: [String: [Nameserver]], options: QueryOptions) async -> [String] {
        // Servers that answered without the values, at names some other server serves them.
        let lacking = pending.filter { !$0.recursive && $0.rcode != nil && $0.lastError == nil && !(serving[$0.name] ?? []).isEmpty }
        guard !lacking.isEmpty else { return [] }
        var asked: [PairKey] = []
        for record in lacking.prefix(5) {
            for server in [record.nameserver] + (serving[record.name] ?? []) {
                let key = PairKey(nameserver: server, name: record.name, recursive: false)
                if !asked.contains(key) { asked.append(key) }
            }
        }
        var soa = options
        soa.recursionDesired = false
        soa.retries = 0
        let client = self.client, soaOptions = soa
        let found = await withTaskGroup(of: (PairKey, ZoneSerial?).self) { group in
            for key in asked {
                group.addTask {
                    let response = try? await client.query(key.name, type: "SOA", server: key.nameserver.address, options: soaOptions)
                    return (key, response.flatMap(ZoneSerial.init))
                }
            }
            var serials: [PairKey: ZoneSerial] = [:]
            for await (key, serial) in group { serials[key] = serial }
            return serials
        }
        var sentences: [String] = []
        var unchanged: [String: (reference: String, serial: UInt32, lacking: [String])] = [:]
        var seen: Set<String> = []
        for record in lacking.prefix(5) {
            let key = PairKey(nameserver: record.nameserver, name: record.name, recursive: false)
            guard let own = found[key] else { continue }
            // The server the others should follow: the zone's primary (SOA MNAME) when it is
            // one of those serving the values, else the one with the newest serial.
            let references = (serving[record.name] ?? []).compactMap { server in
                found[PairKey(nameserver: server, name: record.name, recursive: false)].map { (server, $0) }
            }.filter { $0.1.zone == own.zone }
            guard let reference = references.first(where: { $0.0.name == $0.1.primary })
                    ?? references.max(by: { ZoneSerial.precedes($0.1.serial, $1.1.serial) }) else { continue }
            let named = reference.0.name == reference.1.primary ? "the primary \(reference.0)" : "\(reference.0), which serves the values,"
            guard seen.insert("\(own.zone) \(record.nameserver)").inserted else { continue }
            if own.serial == reference.1.serial {
                unchanged[own.zone, default: (reference: named, serial: own.serial, lacking: [])].lacking.append(record.nameserver.description)
            } else if ZoneSerial.precedes(own.serial, reference.1.serial) {
                sentences.append("\(record.nameserver) still serves serial \(own.serial) of zone \(own.zone), \(named) serial \(reference.1.serial): its zone transfer is not happening (NOTIFY / allow-transfer?)")
            }
        }
        for (zone, entry) in unchanged.sorted(by: { $0.key < $1.key }) {
            let servers = entry.lacking.joined(separator: ", ")
            sentences.append("\(servers) lack\(entry.lacking.count == 1 ? "s" : "") the values with the same SOA serial \(entry.serial) of zone \(zone) as \(entry.reference.hasSuffix(",") ? String(entry.reference.dropLast()) : entry.reference): the primary's SOA serial did not change after the update, so secondaries will not transfer it (PowerDNS: set SOA-EDIT-API / SOA-EDIT-DNSUPDATE)")
        }
        return sentences
    }
}

/// A zone's SOA as one server serves it: from the answer at the apex, or from the authority
/// section of a negative answer below it (RFC 2308 §3).
struct ZoneSerial: Sendable, Hashable {
    var zone: String
    var serial: UInt32
    /// The MNAME field: the zone's primary server.
    var primary: String

    init?(_ response: DNSResponse) {
        guard let soa = response.answer.first(where: { $0.type == "SOA" }) ?? response.authority.first(where: { $0.type == "SOA" }) else {
            return nil
        }
        let fields = soa.data.split(separator: " ")
        guard fields.count >= 3, let serial = UInt32(fields[2]) else { return nil }
        zone = soa.name
        self.serial = serial
        primary = DomainName.canonical(String(fields[0]))
    }

    /// RFC 1982 §3.2: whether serial `a` is older than `b` (they wrap around at 2^32).
    static func precedes(_ a: UInt32, _ b: UInt32) -> Bool {
        a != b && (b &- a) < (1 << 31)
    }
}
