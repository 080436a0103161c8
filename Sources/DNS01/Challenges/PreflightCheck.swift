import Clocks
import DNS
import FoundationEssentials
import Glibc
import Providers

/// `dns01 check`: for each name, find its zone and provider, present a probe TXT value at its
/// challenge name, wait until every authoritative nameserver serves it, remove it, and report
/// the time and any fault. The CA is never contacted.
public struct PreflightCheck: Sendable {
    public struct Result: Sendable, Codable {
        public var name: String
        public var challengeName: String
        public var recordName: String?
        public var zone: String?
        public var provider: String?
        public var nameservers: [String]
        public var seconds: Double
        public var ok: Bool
        public var error: String?
    }

    public let config: Configuration
    let deployer: ChallengeDeployer
    let events: EventSink

    public init(config: Configuration, events: @escaping EventSink) {
        self.config = config
        self.events = events
        deployer = ChallengeDeployer(config: config, events: events)
    }

    /// The names to check when none are given: every [[certificate]]'s domains, else every
    /// provider zone.
    public static func defaultNames(_ config: Configuration) -> [String] {
        let fromCertificates = config.certificates.flatMap(\.domains)
        if !fromCertificates.isEmpty { return fromCertificates }
        return config.providers.flatMap(\.zones)
    }

    /// Checks every name concurrently (names sharing a challenge name are checked once).
    public func run(_ names: [String]) async -> [Result] {
        await deployer.cleanupOrphans()
        var bases: [String] = []
        for name in names {
            let base = DomainName.base(of: name)
            if !bases.contains(base) { bases.append(base) }
        }
        return await withTaskGroup(of: (Int, Result).self) { group in
            for (index, base) in bases.enumerated() {
                group.addTask { (index, await self.check(base)) }
            }
            var results = [Result?](repeating: nil, count: bases.count)
            for await (index, result) in group { results[index] = result }
            return results.compactMap { $0 }
        }
    }

    private func check(_ name: String) async -> Result {
        let start = ContinuousClock.now
        var result = Result(name: name, challengeName: DomainName.challengeName(for: name), recordName: nil, zone: nil,
                            provider: nil, nameservers: [], seconds: 0, ok: false, error: nil)
        var records: [ChallengeRecord] = []
        do {
            let target = try await deployer.target(for: name)
            result.recordName = target.recordName
            result.zone = target.zone
            result.provider = target.provider
            result.nameservers = try await deployer.nameservers(of: target.zone).map(\.description)
            records = [ChallengeRecord(target: target, value: Self.probeValue())]
            try await deployer.present(records)
            try await deployer.waitUntilVisible(records)
            result.ok = true
        } catch {
            result.error = describe(error)
        }
        let errors = await deployer.cleanup(records)
        if result.ok, let failure = errors.first {
            result.ok = false
            result.error = "the probe record was not removed: \(describe(failure))"
        }
        result.seconds = (ContinuousClock.now - start).inSeconds
        return result
    }

    /// 43 base64url characters, the shape of a real dns-01 value.
    static func probeValue() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var generator = SystemRandomNumberGenerator()
        return String((0..<43).map { _ in alphabet[Int(generator.next() % 64)] })
    }
}
