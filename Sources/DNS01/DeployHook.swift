import Foundation
import Providers
import Processes

/// Runs a certificate's `deploy_hook` after it changed, with certbot's variables
/// (`RENEWED_LINEAGE`, `RENEWED_DOMAINS`) plus `DNS01_CERT_NAME`, and dns01's environment less its
/// credential variables (`Configuration.childEnvironment`). A failing hook is reported,
/// never fatal: the certificate is stored either way.
enum DeployHook {
    static let timeout: Duration = .seconds(300)

    /// Returns the failure as one sentence, or nil.
    static func run(_ command: String, certName: String, live: String, domains: [String], config: Configuration, events: EventSink) async -> String? {
        let environment = [
            "RENEWED_LINEAGE": live,
            "RENEWED_DOMAINS": domains.joined(separator: " "),
            "DNS01_CERT_NAME": certName,
        ]
        return await UserCommand.run(command, what: "deploy hook '\(command)' for \(certName)", done: "\(certName): deploy hook '\(command)' done",
                                     environment: environment, timeout: timeout, config: config, events: events)
    }
}
