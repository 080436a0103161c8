import Clocks
import DNS
import FoundationEssentials
import Glibc

/// Whether a dns-persist-01 record that lets this CA issue to this account is served, for the
/// issuer to choose dns-persist-01 over dns-01 (an injection point for tests of the issuance
/// flow; `PersistLookup` is the real one).
public protocol PersistRecordLookup: Sendable {
    /// The identifiers among `identifiers` ("*.example.com" asks for a wildcard) for which every
    /// authoritative nameserver serves a record that authorizes the CA named by `issuerNames`
    /// (the challenge's issuer domain names) to issue to `accountURL`. Never throws: a name
    /// that cannot be looked up is left out.
    func matching(identifiers: [String], issuerNames: [String], accountURL: String) async -> Set<String>
}

/// Reads `_validation-persist` records where the CA will (draft-ietf-acme-dns-persist-01 §4):
/// the name's CNAME chain is followed, as the CA's resolver follows it, and every address of
/// every authoritative nameserver of the zone at the end of the chain is asked directly, with
/// recursion off. A record counts only when every server serves it: the CA may ask any of them
/// (and from several vantage points, §7.8.2).
public struct PersistLookup: PersistRecordLookup {
    /// A record whose `persistUntil` passes within this many seconds counts as expired by
    /// `matching`: the CA looks after the order is placed, not now.
    public static let margin: TimeInterval = 600
    /// Names looked up at once by `matching(identifiers:...)`.
    public static let concurrency = 8

    let zoneFinder: ZoneFinder
    let client: DNSClient
    let options: QueryOptions

    /// A lookup with its own zone cache.
    public init(config: Configuration) {
        zoneFinder = config.makeZoneFinder()
        client = DNSClient()
        options = QueryOptions(timeout: .seconds(2), retries: 1, recursionDesired: false)
    }

    /// A lookup sharing the deployer's zone and nameserver cache (one SOA walk per zone per run).
    public init(deployer: ChallengeDeployer) {
        zoneFinder = deployer.zoneFinder
        client = DNSClient()
        options = QueryOptions(timeout: .seconds(2), retries: 1, recursionDesired: false)
    }

    /// What one nameserver address answered.
    public struct ServerAnswer: Sendable, Hashable, Codable {
        public var nameserver: String
        /// The TXT values, sorted; empty when the server failed.
        public var values: [String]
        /// Why the server gave no usable answer (timeout, REFUSED, a referral).
        public var error: String?
    }

    /// What the authoritative servers serve at one name's `_validation-persist` name.
    public struct Served: Sendable, Codable {
        /// The validated name ("example.com").
        public var name: String
        /// "_validation-persist.example.com".
        public var validationName: String
        /// Where the values live: `validationName`, or the end of its CNAME chain.
        public var recordName: String
        public var zone: String
        /// One per nameserver address, in the zone finder's order.
        public var answers: [ServerAnswer]
        /// The servers asked, for polling again.
        var nameservers: [Nameserver] = []

        enum CodingKeys: String, CodingKey { case name, validationName, recordName, zone, answers }

        /// Every value any server serves, sorted.
        public var values: [String] { Set(answers.flatMap(\.values)).sorted() }

        /// Every server answered, all with the same values.
        public var consistent: Bool {
            answers.allSatisfy { $0.error == nil } && Set(answers.map(\.values)).count <= 1
        }

        /// Every server answered and serves a value for which `predicate` holds.
        public func servedEverywhere(_ predicate: (String) -> Bool) -> Bool {
            !answers.isEmpty && answers.allSatisfy { $0.error == nil && $0.values.contains(where: predicate) }
        }
    }

    /// Asks every authoritative server for the TXT values at `name`'s `_validation-persist` name
    /// (`name` may be a wildcard; its base is asked). Throws when the zone or its servers cannot
    /// be found; a server that does not answer is reported in its `ServerAnswer`.
    public func served(at name: String) async throws -> Served {
        let validationName = PersistRecord.validationName(for: name)
        let base = String(validationName.dropFirst(PersistRecord.label.count + 1))
        let (recordName, zone) = try await zoneFinder.locate(validationName)
        let servers = try await zoneFinder.nameservers(of: zone)
        var served = Served(name: base, validationName: validationName, recordName: recordName, zone: zone, answers: [])
        served.nameservers = servers
        served.answers = await ask(servers, at: recordName)
        return served
    }

    /// Asks `servers` for the TXT values at `name`, concurrently, in the order given.
    func ask(_ servers: [Nameserver], at name: String) async -> [ServerAnswer] {
        await withTaskGroup(of: (Int, ServerAnswer).self) { group in
            for (index, server) in servers.enumerated() {
                group.addTask { (index, await self.ask(server, at: name)) }
            }
            var answers = [ServerAnswer?](repeating: nil, count: servers.count)
            for await (index, answer) in group { answers[index] = answer }
            return answers.compactMap { $0 }
        }
    }

    private func ask(_ server: Nameserver, at name: String) async -> ServerAnswer {
        func failed(_ reason: String) -> ServerAnswer { ServerAnswer(nameserver: server.description, values: [], error: reason) }
        do {
            let response = try await client.query(name, type: "TXT", server: server.address, options: options)
            guard response.rcode == "NOERROR" || response.rcode == "NXDOMAIN" else { return failed("answered \(response.rcode)") }
            if response.rcode == "NOERROR" && !response.authoritative && response.answer.isEmpty
                && response.authority.contains(where: { $0.type == "NS" }) {
                return failed("a referral instead of an authoritative answer (not authoritative for the zone)")
            }
            return ServerAnswer(nameserver: server.description, values: response.answers("TXT", at: name).map(\.data).sorted(), error: nil)
        } catch let error as DNSError {
            return failed(error.code == .timeout ? "no answer within \(options.timeout)" : error.clause)
        } catch {
            return failed("\(error)")
        }
    }

    /// Whether every authoritative server serves a record that lets the CA named by
    /// `issuerNames` issue for `identifier` to `accountURL`, valid until at least `now` +
    /// `margin`. `wildcard` defaults to whether `identifier` starts with "*.". The record is
    /// looked for at the identifier's own `_validation-persist` name only: a record at a parent
    /// name covers subdomains only for CAs that implement draft §6, which a client cannot know.
    public func matching(identifier: String, wildcard: Bool? = nil, issuerNames: [String], accountURL: String,
                         now: Date = Date()) async -> Bool {
        let wildcard = wildcard ?? DomainName.isWildcard(identifier)
        guard !issuerNames.isEmpty, !accountURL.isEmpty, let served = try? await served(at: identifier) else { return false }
        let later = now.addingTimeInterval(Self.margin)
        return served.servedEverywhere { value in
            guard let record = try? PersistRecord(parsing: value) else { return false }
            return record.authorizes(name: served.name, wildcard: wildcard, issuerNames: issuerNames, accountURL: accountURL, now: later)
        }
    }

    public func matching(identifiers: [String], issuerNames: [String], accountURL: String) async -> Set<String> {
        var unique: [String] = []
        for identifier in identifiers where !unique.contains(identifier) { unique.append(identifier) }
        let now = Date()
        return await withTaskGroup(of: (String, Bool).self) { group in
            var next = 0
            func start() {
                let identifier = unique[next]
                next += 1
                group.addTask {
                    (identifier, await self.matching(identifier: identifier, issuerNames: issuerNames, accountURL: accountURL, now: now))
                }
            }
            while next < unique.count && next < Self.concurrency { start() }
            var found = Set<String>()
            for await (identifier, matches) in group {
                if matches { found.insert(identifier) }
                if next < unique.count { start() }
            }
            return found
        }
    }

    /// Waits until none of `served`'s servers serves any of `values` (after `--remove`): the
    /// propagation waiter, waiting for values to be gone; it throws at `timeout` naming the
    /// servers that still serve them.
    func waitUntilGone(_ values: Set<String>, at served: Served, timeout: Duration, pollInterval: Duration,
                       clock: any DeadlineClock = SystemClock()) async throws {
        let waiter = PropagationWaiter(client: client, pollInterval: pollInterval, options: options, clock: clock)
        try await waiter.wait(for: [PropagationCheck(name: served.recordName, values: values, nameservers: served.nameservers, gone: true)],
                              deadline: clock.now + timeout)
    }
}
