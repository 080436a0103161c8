import Files
import FoundationEssentials
import FoundationShim
import Glibc
import X509

/// The Prometheus textfile `dns01 run` leaves after each run (`[metrics] textfile`), for
/// node_exporter's textfile collector: one gauge family per fact, in the text exposition format
/// 0.0.4 (`# HELP`, `# TYPE`, then `name{label="value"} number`), names after Prometheus's
/// conventions (a `dns01_` prefix, base units, `_timestamp_seconds` for times, no `_total` on a
/// gauge), so `promtool check metrics` passes it.
///
/// Every `[[certificate]]` of the config gets its lines, not only those this run attempted:
/// the expiry from live/, the last success and failure and the failure streak from its
/// `RunHistory`. The run's own lines say how long it took, how many records it presented and
/// how many certificates ended in each status.
public enum MetricsTextfile {
    /// What one certificate contributes.
    public struct CertificateFacts: Sendable, Equatable {
        public var name: String
        /// notAfter of the certificate in live/, nil without one.
        public var expiry: Date?
        /// True when live/ holds dns01's self-signed placeholder.
        public var placeholder: Bool
        public var lastSuccess: Date?
        public var lastFailure: Date?
        public var consecutiveFailures: Int
        /// Until when the CA's `rateLimited` answer holds (nil: none, or past).
        public var rateLimitedUntil: Date?

        public init(name: String, expiry: Date? = nil, placeholder: Bool = false, lastSuccess: Date? = nil,
                    lastFailure: Date? = nil, consecutiveFailures: Int = 0, rateLimitedUntil: Date? = nil) {
            self.rateLimitedUntil = rateLimitedUntil
            self.name = name
            self.expiry = expiry
            self.placeholder = placeholder
            self.lastSuccess = lastSuccess
            self.lastFailure = lastFailure
            self.consecutiveFailures = consecutiveFailures
        }
    }

    /// The statuses counted by `dns01_run_certificates`, always all of them (a status with no
    /// certificate reads 0, so an alert on `failed > 0` sees it go back to 0).
    static let statuses = BatchRun.Status.outcomes

    /// The facts for every certificate of `config`: live/ and the run history as they are now.
    public static func facts(_ config: Configuration) -> [CertificateFacts] {
        let store = CertificateStore(stateDir: config.acme.stateDir)
        let history = RunHistoryStore(stateDir: config.acme.stateDir)
        return config.certificates.map { spec in
            let record = history.read(spec.name)
            // An unreadable cert.pem has no expiry to report; the next issuance replaces it.
            let certificate = try? store.currentCertificate(spec.name)
            return CertificateFacts(name: spec.name, expiry: certificate?.notValidAfter,
                                    placeholder: certificate.map(CertificateStore.isPlaceholder) ?? false,
                                    lastSuccess: record.lastSuccess, lastFailure: record.lastFailure,
                                    consecutiveFailures: max(0, record.consecutiveFailures),
                                    rateLimitedUntil: record.rateLimit(at: Date())?.until)
        }
    }

    /// The textfile's text for a run that ended at `finishedAt`.
    public static func render(_ certificates: [CertificateFacts], summary: BatchRun.Summary, finishedAt: Date) -> String {
        var text = ""
        func family(_ name: String, _ help: String, _ samples: [(labels: [(String, String)], value: String)]) {
            guard !samples.isEmpty else { return }
            text += "# HELP \(name) \(escapeHelp(help))\n# TYPE \(name) gauge\n"
            for sample in samples {
                let labels = sample.labels.map { "\($0.0)=\"\(escapeLabelValue($0.1))\"" }.joined(separator: ",")
                text += labels.isEmpty ? "\(name) \(sample.value)\n" : "\(name){\(labels)} \(sample.value)\n"
            }
        }
        func perCertificate(_ value: (CertificateFacts) -> String?) -> [(labels: [(String, String)], value: String)] {
            certificates.compactMap { facts in value(facts).map { ([("name", facts.name)], $0) } }
        }
        family("dns01_certificate_expiry_timestamp_seconds", "notAfter of the certificate in live/, as a Unix time.",
               perCertificate { $0.expiry.map(unixTime) })
        family("dns01_certificate_placeholder", "1 when live/ holds dns01's self-signed placeholder instead of a certificate from the CA.",
               perCertificate { $0.expiry == nil ? nil : ($0.placeholder ? "1" : "0") })
        family("dns01_certificate_last_success_timestamp_seconds", "When dns01 run last issued the certificate, as a Unix time.",
               perCertificate { $0.lastSuccess.map(unixTime) })
        family("dns01_certificate_last_failure_timestamp_seconds", "When an attempt by dns01 run last failed for the certificate, as a Unix time.",
               perCertificate { $0.lastFailure.map(unixTime) })
        family("dns01_certificate_consecutive_failures", "Attempts in a row that failed for the certificate (0 after a success).",
               perCertificate { String($0.consecutiveFailures) })
        family("dns01_certificate_rate_limited_until_timestamp_seconds", "Until when the CA refuses new orders for the certificate (rateLimited), as a Unix time.",
               perCertificate { $0.rateLimitedUntil.map(unixTime) })
        family("dns01_run_timestamp_seconds", "When the last dns01 run ended, as a Unix time.", [([], unixTime(finishedAt))])
        family("dns01_run_duration_seconds", "How long the last dns01 run took.", [([], summary.seconds.fixed(3))])
        family("dns01_run_records_presented", "DNS records the last dns01 run presented for challenges.",
               [([], String(summary.recordsPresented))])
        family("dns01_run_certificates", "Certificates of the last dns01 run, by the status they ended in.",
               statuses.map { status in ([("status", status.rawValue)], String(summary.count(status))) })
        return text
    }

    /// Renders and replaces the textfile: a temporary file in the same directory, synced, then
    /// renamed over it (mode 0644: node_exporter runs as another user), so the collector reads
    /// the old text or the new one, never a part. A write that fails is a warning: the run's
    /// certificates are what they are either way.
    public static func write(_ settings: MetricsSettings, config: Configuration, summary: BatchRun.Summary,
                             finishedAt: Date = Date(), events: EventSink) {
        let path = settings.textfile
        let directory = FileSystem.directoryName(path)
        // Not created here: FileSystem would make it 0700, which node_exporter could not read.
        guard FileSystem.isDirectory(directory) else {
            events(.warning("Cannot write the metrics textfile \(path): its directory \(directory) does not exist."))
            return
        }
        do {
            try FileSystem.writeAtomically(render(facts(config), summary: summary, finishedAt: finishedAt), to: path, mode: 0o644)
        } catch {
            events(.warning("Cannot write the metrics textfile: \(describe(error))"))
        }
    }

    /// A Unix time in whole seconds (a certificate's times carry no fraction).
    static func unixTime(_ date: Date) -> String {
        String(Int64(date.timeIntervalSince1970.rounded(.down)))
    }

    /// Text exposition format: in a label value, `\` `"` and a line feed are escaped.
    static func escapeLabelValue(_ value: String) -> String { escape(value, quotes: true) }

    /// Text exposition format: in HELP text, `\` and a line feed are escaped.
    static func escapeHelp(_ value: String) -> String { escape(value, quotes: false) }

    /// By scalar: "\r\n" is one Character in Swift, and its line feed must be escaped too.
    private static func escape(_ value: String, quotes: Bool) -> String {
        var result = String.UnicodeScalarView()
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": result.append(contentsOf: "\\\\".unicodeScalars)
            case "\"" where quotes: result.append(contentsOf: "\\\"".unicodeScalars)
            case "\n": result.append(contentsOf: "\\n".unicodeScalars)
            default: result.append(scalar)
            }
        }
        return String(result)
    }
}
