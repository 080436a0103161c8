import ArgumentParser
import DNS
import DNS01
import FoundationEssentials
import FoundationShim
import Glibc
import Logging

struct CertificatesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certificates",
        abstract: "List every certificate of the config and of live/: names, key, issuer, expiry, when and why it renews, the last run's result."
    )

    @OptionGroup var common: CommonOptions

    @Flag(name: .long, help: "Also ask the CA for each certificate's ARI renewal window (RFC 9773; no account needed). Without it nothing leaves this machine.")
    var askCA = false

    func run() async throws {
        try await runCommand(common, presentsChallenges: false) { console in
            let config = try common.loadConfiguration(requiresCA: askCA)
            var report = CertificateReport.make(config)
            if askCA { await report.askCA(config, logger: Logger(label: "dns01")) }
            if common.json {
                console.printJSON(report)
                return
            }
            guard !report.certificates.isEmpty else {
                console.result("No certificates: \(config.path) has no [[certificate]] and \(report.stateDir)/live is empty.")
                return
            }
            console.result(Self.table(report, now: Date()))
        }
    }

    static let width = 80

    /// One row per certificate (fits 80 columns), then its details indented below it.
    static func table(_ report: CertificateReport, now: Date) -> String {
        var lines = [row("NAME", "KEY", "NOT AFTER (UTC)", "LEFT", "RENEWS (UTC)", "LAST")]
        for entry in report.certificates {
            let live = entry.live
            let renews: String
            if entry.source == .live {
                renews = "-"
            } else if entry.renewal.held == .givenUp {
                renews = "given up"
            } else if let at = entry.renewal.at {
                renews = at <= now ? "now" : time(at)
            } else {
                renews = "-"
            }
            let name = entry.name.count > 20 ? "" : entry.name
            if name.isEmpty { lines.append(entry.name) }
            lines.append(row(name, live?.keyType ?? "-", live.map { time($0.notAfter) } ?? "-",
                             live.map { "\($0.daysLeft)d" } ?? "-", renews, last(entry)))
            var details: [String] = []
            switch entry.source {
            case .live: details.append("not in the config (found in live/): dns01 run leaves it alone")
            case .issued: details.append("source: issued by hand on \(entry.issuedAt.map(day) ?? "an unknown day") (recorded by `dns01 issue`; `dns01 issue --no-renew` forgets it)")
            case .config: details.append("source: config")
            }
            if let live {
                let names = live.names.map(DomainName.display).joined(separator: ", ")
                details.append("names: \(names)" + (entry.source != .live && Set(live.names) != Set(entry.domains)
                    ? " (config: \(entry.domains.map(DomainName.display).joined(separator: ", ")))" : ""))
                details.append("issuer: \(live.issuer)" + (live.placeholder ? " (dns01's self-signed placeholder)" : ""))
            } else {
                if !entry.domains.isEmpty { details.append("names (config): \(entry.domains.map(DomainName.display).joined(separator: ", "))") }
                details.append(entry.liveError ?? "nothing in live/ yet")
            }
            if entry.source != .live {
                var renewal = entry.renewal.due.map { "due now (\($0)); " } ?? ""
                renewal += entry.renewal.rule
                if entry.renewal.held == .rateLimited {
                    renewal += "; rate limited by the CA until \(entry.renewal.at.map(time) ?? "-") UTC (`dns01 run --force` asks now)"
                } else if let held = entry.renewal.held {
                    renewal += "; \(held.rawValue) after failed attempts (`dns01 run --force` retries now)"
                }
                if let start = entry.renewal.ariWindowStart, let end = entry.renewal.ariWindowEnd {
                    renewal += "; ARI window \(time(start)) to \(time(end))"
                } else {
                    renewal += "; ARI window \(entry.renewal.ariNote)"
                }
                details.append("renewal: \(renewal)")
            }
            if let last = entry.lastRun {
                var text = "last run: \(last.result)" + (last.at.map { " at \(time($0))" } ?? "")
                if last.consecutiveFailures > 1 { text += ", \(last.consecutiveFailures) failures in a row" }
                details.append(text)
                if let error = last.error { details.append("error: \(error)") }
            }
            if let checked = entry.lastChecked { details.append("last checked by dns01 run at \(time(checked)): not due") }
            lines += details.flatMap { wrap($0, indent: 4) }
        }
        return lines.joined(separator: "\n")
    }

    /// The LAST column: "checked" when the last run looked at it and found nothing to do,
    /// else the result of its last attempt.
    static func last(_ entry: CertificateReport.Entry) -> String {
        entry.lastChecked != nil ? "checked" : entry.lastRun?.result ?? "-"
    }

    static func row(_ name: String, _ key: String, _ notAfter: String, _ left: String, _ renews: String, _ last: String) -> String {
        pad(name, 20) + " " + pad(key, 7) + " " + pad(notAfter, 16) + " " + String(repeating: " ", count: max(0, 6 - left.count)) + left
            + "  " + pad(renews, 16) + "  " + last
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    /// "2026-08-01 10:00", UTC.
    static func time(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        return "\((parts.year ?? 0).zeroPadded(4))-\((parts.month ?? 0).zeroPadded(2))-\((parts.day ?? 0).zeroPadded(2)) "
            + "\((parts.hour ?? 0).zeroPadded(2)):\((parts.minute ?? 0).zeroPadded(2))"
    }

    /// "2026-08-01", UTC.
    static func day(_ date: Date) -> String {
        String(time(date).prefix(10))
    }

    /// `text` broken at spaces into lines of at most `width` columns, each indented by `indent`
    /// (a word longer than a line stays whole).
    static func wrap(_ text: String, indent: Int) -> [String] {
        let prefix = String(repeating: " ", count: indent)
        var lines: [String] = [], current = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: false) {
            if !current.isEmpty && prefix.count + current.count + 1 + word.count > width {
                lines.append(prefix + current)
                current = "  " + word
            } else {
                current += current.isEmpty ? String(word) : " " + word
            }
        }
        if !current.isEmpty { lines.append(prefix + current) }
        return lines
    }
}
