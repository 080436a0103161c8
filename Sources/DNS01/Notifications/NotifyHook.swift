import Clocks
import FoundationEssentials
import Glibc
import HTTP
import Processes
import X509

/// Runs `[notify] command` after `dns01 run`, once per certificate and event, through
/// `/bin/sh -c` as deploy hooks run (`ProcessRunner`: its own process group, killed after
/// `[notify] timeout`, output bounded). What it is about travels in its environment, never in
/// argv: `DNS01_EVENT` (failure, success or expiring), `DNS01_CERT_NAME`, `DNS01_DOMAINS`
/// (space-separated), `DNS01_ERROR` (the failure's sentence), `DNS01_CONSECUTIVE_FAILURES`,
/// `DNS01_NOT_AFTER` (ISO 8601, when live/ holds a certificate) and `DNS01_LIVE`, with dns01's
/// environment less its credential variables (`Configuration.childEnvironment`).
/// A command that fails is a warning: it changes no certificate's outcome.
public enum NotifyHook {
    /// One notification.
    public struct Notice: Sendable, Equatable {
        public var event: NotifySettings.Trigger
        public var name: String
        public var domains: [String]
        public var error: String?
        public var consecutiveFailures: Int
        public var notAfter: Date?
        public var live: String
    }

    /// The longest `DNS01_ERROR`: a hook's output or a CA's detail must not make a huge environment.
    static let errorLimit = 1000

    /// The notifications `settings` asks for after a run whose outcome is `items`: a failure
    /// for each certificate that failed in this run, a success for each issued, and "expiring"
    /// for each not issued in this run whose certificate in live/ (not a placeholder) expires
    /// within `expiring_within` of `now`.
    static func notices(_ settings: NotifySettings, items: [BatchRun.Item], config: Configuration, now: Date) -> [Notice] {
        let store = CertificateStore(stateDir: config.acme.stateDir)
        let history = RunHistoryStore(stateDir: config.acme.stateDir)
        var result: [Notice] = []
        for item in items {
            let live = store.liveDirectory(item.name)
            let certificate = try? store.currentCertificate(item.name)
            let notAfter = certificate?.notValidAfter ?? item.notAfter
            func notice(_ event: NotifySettings.Trigger, error: String? = nil) -> Notice {
                // Every error text is redacted once more here: DNS01_ERROR is passed on.
                let cut = error.map { config.redactor($0) }.map { $0.count > errorLimit ? String($0.prefix(errorLimit)) + "…" : $0 }
                return Notice(event: event, name: item.name, domains: item.domains, error: cut,
                              consecutiveFailures: max(0, history.read(item.name).consecutiveFailures), notAfter: notAfter, live: live)
            }
            switch item.status {
            case .failed where settings.on.contains(.failure):
                result.append(notice(.failure, error: item.error ?? "unknown failure"))
            case .rateLimited where settings.on.contains(.failure) && item.reason == nil:
                // Told once, when the CA refuses; not again on each run it waits.
                result.append(notice(.failure, error: item.error ?? "rate limited"))
            case .issued where settings.on.contains(.success):
                result.append(notice(.success))
            default:
                break
            }
            if item.status != .issued, settings.on.contains(.expiring), let certificate, !CertificateStore.isPlaceholder(certificate),
               certificate.notValidAfter.timeIntervalSince(now) < settings.expiringWithin.inSeconds {
                result.append(notice(.expiring, error: item.error))
            }
        }
        return result
    }

    /// The command's environment for `notice`.
    static func environment(_ notice: Notice) -> [String: String] {
        var environment = [
            "DNS01_EVENT": notice.event.rawValue,
            "DNS01_CERT_NAME": notice.name,
            "DNS01_DOMAINS": notice.domains.joined(separator: " "),
            "DNS01_CONSECUTIVE_FAILURES": String(notice.consecutiveFailures),
            "DNS01_LIVE": notice.live,
            "DNS01_ERROR": notice.error ?? "",
        ]
        if let notAfter = notice.notAfter { environment["DNS01_NOT_AFTER"] = notAfter.formatted(.iso8601) }
        return environment
    }

    /// Sends every notice, one after the other (a mail or chat command need not cope with
    /// itself running in parallel); returns the failures' sentences.
    @discardableResult
    public static func notify(_ settings: NotifySettings, items: [BatchRun.Item], config: Configuration,
                              now: Date = Date(), events: EventSink) async -> [String] {
        var failures: [String] = []
        for notice in notices(settings, items: items, config: config, now: now) {
            if Task.isCancelled { break }
            if let failure = await run(settings, notice: notice, config: config, events: events) { failures.append(failure) }
        }
        return failures
    }

    /// Runs the command for one notice; returns its failure as one sentence, or nil.
    static func run(_ settings: NotifySettings, notice: Notice, config: Configuration, events: EventSink) async -> String? {
        let what = "notify command for \(notice.event.rawValue) of \(notice.name)"
        return await UserCommand.run(settings.command, what: what, done: "\(notice.name): notify command for \(notice.event.rawValue) done",
                                     environment: environment(notice), timeout: settings.timeout, config: config, events: events)
    }
}
