/// Finds where a name lives: CNAMEs followed, the apex of its zone, and the addresses of the
/// zone's authoritative servers. Results are cached for the life of the finder (one run).
///
/// Queries go to `resolvers`: recursive resolvers normally, authoritative servers in labs and
/// split-horizon set-ups, so referrals (a non-authoritative answer with NS records in the
/// authority section) are read as zone cuts too.
public actor ZoneFinder {
    let client: DNSClient
    let resolvers: [DNSServer]
    let options: QueryOptions
    let nameserverPort: UInt16
    let overrides: [String: [DNSServer]]
    private var zones: [String: String] = [:]
    private var servers: [String: [Nameserver]] = [:]

    public init(client: DNSClient, resolvers: [DNSServer], options: QueryOptions = .init(),
                nameserverPort: UInt16 = 53, overrides: [String: [DNSServer]] = [:]) {
        self.client = client
        self.resolvers = resolvers
        self.options = options
        self.nameserverPort = nameserverPort
        self.overrides = Dictionary(overrides.map { (DomainName.canonical($0.key), $0.value) }, uniquingKeysWith: { $1 })
    }

    /// Where a challenge record goes: the end of the CNAME chain from `name` (up to 16 links) and
    /// the zone that holds it.
    ///
    /// A name that dns01 is about to write is never looked up through the resolvers: a shared
    /// recursive resolver would cache the NXDOMAIN for the zone's negative TTL (RFC 2308 §5), and
    /// a CA asking the same resolver would then see no TXT although every authoritative server
    /// serves it. So the zone is found by walking SOA from the name's *parent* through the
    /// resolvers, and the name itself (its CNAME, or a delegation to a deeper zone) is asked of
    /// that zone's authoritative servers, with recursion off.
    public func locate(_ name: String) async throws -> (recordName: String, zone: String) {
        let start = DomainName.canonical(name)
        var chain = [start]
        var zone = try await zone(containing: DomainName.parent(of: start))
        var cuts = 0
        while true {
            let current = chain[chain.count - 1]
            let response = try await askAuthoritative(current, type: "CNAME", zone: zone)
            // A delegation below the zone's apex (RFC 1034 §4.3.2): the name lives in the child.
            if let cut = referral(in: response, for: current), cut.count > zone.count, DomainName.isSubdomain(cut, of: zone) {
                cuts += 1
                guard cuts <= 16 else {
                    throw DNSError(.zoneNotFound, "The delegations below \(zone) towards \(current) go more than 16 levels deep.", name: current)
                }
                zone = cut
                continue
            }
            // One server may serve the parent and the child zone: its negative answer names the
            // child's SOA (RFC 2308 §3).
            if let soa = response.authority.first(where: { $0.type == "SOA" }), soa.name.count > zone.count,
               DomainName.isSubdomain(soa.name, of: zone), DomainName.isSubdomain(current, of: soa.name) {
                zone = soa.name
            }
            guard let target = response.answers("CNAME", at: current).first?.data else { return (current, zone) }
            if chain.contains(target) {
                throw DNSError(.cnameLoop, "The CNAME chain from \(start) loops: \((chain + [target]).joined(separator: " → ")).", name: start)
            }
            chain.append(target)
            if chain.count > 17 {
                throw DNSError(.cnameLoop, "The CNAME chain from \(start) is longer than 16 links.", name: start)
            }
            if !DomainName.isSubdomain(target, of: zone) {
                zone = try await self.zone(containing: DomainName.parent(of: target))
            }
        }
    }

    /// Asks the authoritative servers of `zone` directly (recursion off); the first answer that
    /// is not a server failure counts.
    func askAuthoritative(_ name: String, type: String, zone: String) async throws -> DNSResponse {
        let servers = try await nameservers(of: zone)
        var authoritative = options
        authoritative.recursionDesired = false
        var failures: [String] = []
        for server in servers {
            do {
                let response = try await client.query(name, type: type, server: server.address, options: authoritative)
                if response.rcode == "NOERROR" || response.rcode == "NXDOMAIN" { return response }
                failures.append("\(server) answered \(response.rcode)")
            } catch let error as DNSError {
                failures.append(error.clause)
            }
        }
        throw DNSError(.network, "No nameserver of zone \(zone) could be asked for \(name) \(type): \(failures.joined(separator: "; ")).", name: name)
    }

    /// The apex of the zone holding `name`: the closest enclosing name with an SOA, taken from
    /// the answer, from the authority section of NXDOMAIN/NODATA answers (RFC 2308 §3), or from a
    /// referral to a delegated sub-zone.
    public func zone(containing name: String) async throws -> String {
        let name = DomainName.canonical(name)
        if let zone = zones[name] { return zone }
        let zone: String
        do {
            zone = try await walk(name)
        } catch let error as DNSError {
            // Hidden primaries and split horizons: a [[zone]] override names the apex itself.
            guard let override = overrides.keys.filter({ DomainName.isSubdomain(name, of: $0) }).max(by: { $0.count < $1.count }) else {
                throw error
            }
            zone = override
        }
        zones[name] = zone
        return zone
    }

    private func walk(_ name: String) async throws -> String {
        var candidate = name
        while !candidate.isEmpty {
            let response = try await ask(candidate, type: "SOA")
            if response.answers("SOA", at: candidate).first != nil { return candidate }
            if let soa = response.authority.first(where: { $0.type == "SOA" }),
               DomainName.isSubdomain(candidate, of: soa.name), !soa.name.isEmpty {
                // A referral from a parent holds NS records for a deeper cut than its SOA.
                if let cut = referral(in: response, for: candidate), cut.count > soa.name.count { return cut }
                return soa.name
            }
            if let cut = referral(in: response, for: candidate) { return cut }
            candidate = DomainName.parent(of: candidate)
        }
        throw DNSError(.zoneNotFound, "No DNS zone holds \(name): no SOA record was found at it or any parent (asked \(resolverList)).", name: name)
    }

    private func referral(in response: DNSResponse, for name: String) -> String? {
        guard !response.authoritative || response.answer.isEmpty else { return nil }
        return response.authority
            .filter { $0.type == "NS" && DomainName.isSubdomain(name, of: $0.name) && !$0.name.isEmpty }
            .map(\.name).max(by: { $0.count < $1.count })
    }

    /// Every address of every authoritative server of `zone` (or the configured override).
    public func nameservers(of zone: String) async throws -> [Nameserver] {
        let zone = DomainName.canonical(zone)
        if let cached = servers[zone] { return cached }
        if let override = overrides[zone], !override.isEmpty {
            let list = override.map { Nameserver(name: $0.description, address: $0) }
            servers[zone] = list
            return list
        }
        let response = try await ask(zone, type: "NS")
        var names = response.answers("NS", at: zone).map(\.data)
        if names.isEmpty {
            names = response.authority.filter { $0.type == "NS" && $0.name == zone }.map(\.data)
        }
        guard !names.isEmpty else {
            throw DNSError(.zoneNotFound, "Zone \(zone) has no NS records (asked \(resolverList)).", name: zone)
        }
        let glue = response.additional
        let port = nameserverPort
        let list = try await withThrowingTaskGroup(of: [Nameserver].self) { group in
            for name in Set(names) {
                group.addTask {
                    // Glue is what the answer happened to carry: a referral's A without its AAAA,
                    // or a resolver's cache without IPv6. Both families are always looked up, and
                    // what the answer carried is kept too: the CA may ask any address.
                    let carried = glue.filter { ($0.type == "A" || $0.type == "AAAA") && $0.name == name }.map(\.data)
                    async let v4 = self.ask(name, type: "A")
                    async let v6 = self.ask(name, type: "AAAA")
                    let answers = (try? await v4.answers("A", at: name)) ?? []
                    let answers6 = (try? await v6.answers("AAAA", at: name)) ?? []
                    var addresses: [String] = []
                    for address in carried + (answers + answers6).map(\.data) where !addresses.contains(address) {
                        addresses.append(address)
                    }
                    guard !addresses.isEmpty else {
                        throw DNSError(.noAddress, "Nameserver \(name) of zone \(zone) has no A or AAAA address.", name: name)
                    }
                    return addresses.map { Nameserver(name: name, address: DNSServer(host: $0, port: port)) }
                }
            }
            var all: [Nameserver] = []
            for try await part in group { all += part }
            return all
        }
        let sorted = Array(Set(list)).sorted { ($0.name, $0.address.host) < ($1.name, $1.address.host) }
        servers[zone] = sorted
        return sorted
    }

    /// Asks the resolvers in order; the first answer that is not a server failure counts.
    func ask(_ name: String, type: String) async throws -> DNSResponse {
        var failures: [String] = []
        for resolver in resolvers {
            do {
                let response = try await client.query(name, type: type, server: resolver, options: options)
                if response.rcode == "NOERROR" || response.rcode == "NXDOMAIN" { return response }
                failures.append("\(resolver) answered \(response.rcode)")
            } catch let error as DNSError {
                failures.append(error.clause)
            }
        }
        if resolvers.isEmpty {
            throw DNSError(.network, "No DNS resolvers are configured to look up \(name).", name: name)
        }
        throw DNSError(.network, "No resolver could look up \(name) \(type): \(failures.joined(separator: "; ")).", name: name)
    }

    private var resolverList: String { resolvers.map(\.description).joined(separator: ", ") }
}
