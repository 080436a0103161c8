import FoundationEssentials
import Glibc
import Processes
import Providers

/// A certificate's `deploy_hook`, run after it changed with certbot's variables
/// (`RENEWED_LINEAGE`, `RENEWED_DOMAINS`) plus `DNS01_CERT_NAME`, and dns01's environment less its
/// credential variables (`Configuration.childEnvironment`). A failing hook is reported,
/// never fatal: the certificate is stored either way.
struct DeployHook: Sendable {
    static let timeout: Duration = .seconds(300)

    /// The command line, run by `/bin/sh -c`.
    var command: String
    /// Whose credential variables are withheld from it and redacted from what it prints.
    var config: Configuration

    /// Runs it for `certName`; returns the failure as one sentence, or nil.
    func run(certName: String, live: String, domains: [String], events: EventSink) async -> String? {
        let environment = [
            "RENEWED_LINEAGE": live,
            "RENEWED_DOMAINS": domains.joined(separator: " "),
            "DNS01_CERT_NAME": certName,
        ]
        return await UserCommand.run(command, what: "deploy hook '\(command)' for \(certName)", done: "\(certName): deploy hook '\(command)' done",
                                     environment: environment, timeout: Self.timeout, config: config, events: events)
    }
}
