import ACME
import Clocks
import FoundationEssentials
import FoundationShim
import Glibc
import X509

/// `dns01 certificates`: every certificate of the config and of `live/`, what is stored, when
/// `dns01 run` will renew it and why, and how its last attempt went. Read from the state
/// directory alone (no CA, no DNS), so it answers while the CA is down; `askCA` adds the CA's
/// ARI window on request.
public struct CertificateReport: Sendable, Codable {
    /// One certificate. Keys are stable: scripts read them (`--json`).
    public struct Entry: Sendable, Codable {
        public var name: String
        /// False for a directory in live/ that no `[[certificate]]` names (recorded by `dns01
        /// issue`, or left alone by `dns01 run`: `source` says which).
        public var inConfig: Bool
        /// Where `dns01 run` learns of it: "config", "issued" (recorded by `dns01 issue` at
        /// `issuedAt`), or "live" (only found in live/: `dns01 run` leaves it alone).
        public var source: Source
        public var issuedAt: Date?
        /// The names the config asks for (empty when not in the config).
        public var domains: [String]
        /// What live/ holds; nil fields when it holds nothing (or nothing readable: `liveError`).
        public var live: Live?
        public var liveError: String?
        public var renewal: Renewal
        public var lastRun: LastRun?
        /// When the last `dns01 run` looked at it and found nothing to do; nil when the last
        /// run attempted it (`lastRun`) or none has run.
        public var lastChecked: Date?
    }

    public enum Source: String, Sendable, Codable {
        case config, issued, live
    }

    public struct Live: Sendable, Codable {
        /// The certificate's DNS names (subjectAltName), as stored.
        public var names: [String]
        /// "ec256", "ec384", "rsa2048", …; "rsaN" or "other" for keys dns01 does not make.
        public var keyType: String
        /// The issuer's common name (its whole name when it has none).
        public var issuer: String
        public var notBefore: Date
        public var notAfter: Date
        /// Whole days until notAfter (negative once expired).
        public var daysLeft: Int
        /// dns01's self-signed placeholder, not yet the CA's certificate.
        public var placeholder: Bool
    }

    public struct Renewal: Sendable, Codable {
        /// When `dns01 run` renews it at the earliest: now when due (or missing), later by the
        /// rule, the back-off after failures, or never (given up, or not in the config: nil).
        public var at: Date?
        /// Due now: why (RenewalPlan.Reason: "missing", "expiring", "names-changed",
        /// "placeholder"); nil when not due.
        public var due: String?
        /// The rule that set `at`: "renew_before 30d", "lifetime: a third of 90 days", …
        public var rule: String
        /// The CA's suggested window (RFC 9773) when known: the last run does not store it, so
        /// it is known only with `--ask-ca`; `ariNote` says why not otherwise.
        public var ariWindowStart: Date?
        public var ariWindowEnd: Date?
        public var ariNote: String
        /// "backing-off" or "given-up" when failures hold the renewal back.
        public var held: BatchRun.Status?
    }

    public struct LastRun: Sendable, Codable {
        /// "success" or "failure": the last attempt's outcome.
        public var result: String
        public var at: Date?
        public var error: String?
        public var lastSuccess: Date?
        public var lastFailure: Date?
        public var consecutiveFailures: Int
    }

    public var certificates: [Entry]
    public var stateDir: String

    /// The report at `now`, from the config and `state_dir` only.
    public static func make(_ config: Configuration, now: Date = Date()) -> CertificateReport {
        // What `dns01 run` renews: the [[certificate]] entries and the records of `dns01 issue`.
        let config = config.addingIssuedRecords().configuration
        let stateDir = config.acme.stateDir
        let store = CertificateStore(stateDir: stateDir)
        let history = RunHistoryStore(stateDir: stateDir)
        let decisions = RenewalPlan.decide(config.certificates, store: store, force: false, now: now)
        var entries: [Entry] = []
        let checked = history.readChecked()
        let checkedNames = Set(checked?.names ?? [])
        for decision in decisions {
            let spec = decision.spec
            var entry = Entry(name: spec.name, inConfig: spec.issuedByHand == nil, source: spec.issuedByHand == nil ? .config : .issued,
                              issuedAt: spec.issuedByHand, domains: spec.domains, renewal: Renewal(at: nil, due: nil, rule: "", ariNote: ariUnknown))
            let certificate = readLive(store, spec.name, into: &entry, now: now)
            entry.renewal.due = decision.reason?.rawValue
            if let certificate, entry.live?.placeholder == false {
                entry.renewal.rule = rule(certificate, renewBefore: spec.renewBefore)
            } else if entry.live?.placeholder == true {
                entry.renewal.rule = "a placeholder is replaced at once"
            } else {
                entry.renewal.rule = "nothing usable in live/: issued at once"
            }
            entry.renewal.at = decision.reason == nil ? decision.renewAt : now
            if decision.reason == .namesChanged { entry.renewal.rule = "the configured names differ from the certificate's" }
            let record = history.read(spec.name)
            entry.lastRun = lastRun(record)
            if checkedNames.contains(spec.name) { entry.lastChecked = checked?.at }
            if entry.renewal.due != nil || (entry.renewal.at.map { $0 <= now } ?? false), let limit = record.rateLimit(at: now) {
                entry.renewal.held = .rateLimited
                entry.renewal.at = limit.until
            } else if entry.renewal.due != nil || (entry.renewal.at.map { $0 <= now } ?? false), record.consecutiveFailures > 0 {
                switch record.retry(at: now, giveUpAfter: spec.giveUpAfter.inSeconds) {
                case .now: break
                case .backingOff(let until):
                    entry.renewal.held = .backingOff
                    entry.renewal.at = until
                case .givenUp:
                    entry.renewal.held = .givenUp
                    entry.renewal.at = nil
                }
            }
            entries.append(entry)
        }
        let configured = Set(config.certificates.map(\.name))
        for name in liveNames(stateDir) where !configured.contains(name) {
            var entry = Entry(name: name, inConfig: false, source: .live, domains: [],
                              renewal: Renewal(at: nil, due: nil, rule: "not in the config: dns01 run does not renew it", ariNote: ariUnknown))
            _ = readLive(store, name, into: &entry, now: now)
            let record = history.read(name)
            if record.lastAttempt != nil { entry.lastRun = lastRun(record) }
            entries.append(entry)
        }
        return CertificateReport(certificates: entries, stateDir: stateDir)
    }

    static let ariUnknown = "unknown: runs do not store the CA's window (--ask-ca asks it)"

    /// The directories of `state_dir/live/`, sorted; hidden entries (a link being replaced) skipped.
    static func liveNames(_ stateDir: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "\(stateDir)/live")) ?? []
        return entries.filter { !$0.hasPrefix(".") }.sorted()
    }

    /// Fills `entry.live` (or `liveError`) from live/`name`; returns the certificate read.
    private static func readLive(_ store: CertificateStore, _ name: String, into entry: inout Entry, now: Date) -> Certificate? {
        let certificate: Certificate?
        do {
            certificate = try store.currentCertificate(name)
        } catch {
            entry.liveError = "\(store.liveDirectory(name))/cert.pem cannot be read as a certificate: \(describe(error))"
            return nil
        }
        guard let certificate else {
            if FileManager.default.fileExists(atPath: store.liveDirectory(name)) {
                entry.liveError = "\(store.liveDirectory(name)) holds no cert.pem"
            }
            return nil
        }
        let notAfter = certificate.notValidAfter
        entry.live = Live(names: RenewalPlan.subjectAlternativeNames(certificate), keyType: keyTypeName(certificate.publicKey),
                          issuer: commonName(certificate.issuer), notBefore: certificate.notValidBefore, notAfter: notAfter,
                          daysLeft: Int((notAfter.timeIntervalSince(now) / 86400).rounded(.down)),
                          placeholder: CertificateStore.isPlaceholder(certificate))
        return certificate
    }

    /// Which rule sets the renewal time (`RenewalPlan.renewalTime`), in words.
    static func rule(_ certificate: Certificate, renewBefore: Duration?) -> String {
        if let renewBefore {
            let (total, fraction) = renewBefore.components
            let text = fraction == 0 && total > 0 && total % 86400 == 0 ? "\(total / 86400)d" : renewBefore.configText
            return "renew_before \(text)"
        }
        let lifetime = certificate.notValidAfter.timeIntervalSince(certificate.notValidBefore)
        let days = lifetime / 86400
        // A lifetime a second short of whole days (Pebble's, Let's Encrypt's) reads as whole days.
        let shown = abs(days - days.rounded()) < 0.01 ? String(Int(days.rounded())) : days.fixed(1)
        return lifetime < RenewalPlan.shortLifetime ? "lifetime: half of \(shown) days left" : "lifetime: a third of \(shown) days left"
    }

    static func lastRun(_ record: RunHistory) -> LastRun? {
        guard let attempt = record.lastAttempt else { return nil }
        let failed = record.lastFailure.map { failure in record.lastSuccess.map { failure > $0 } ?? true } ?? false
        return LastRun(result: failed ? "failure" : "success", at: attempt, error: failed ? record.lastError : nil,
                       lastSuccess: record.lastSuccess, lastFailure: record.lastFailure, consecutiveFailures: record.consecutiveFailures)
    }

    static func keyTypeName(_ key: Certificate.PublicKey) -> String {
        KeyType(of: key)?.rawValue ?? "other"
    }

    /// The CN of a distinguished name; the whole name when it has none.
    static func commonName(_ name: DistinguishedName) -> String {
        name.flatMap { $0 }.last { $0.type == .RDNAttributeType.commonName }.map { $0.value.description } ?? name.description
    }
}
