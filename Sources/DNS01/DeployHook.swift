import Foundation
import Providers
import Processes

/// Runs a certificate's `deploy_hook` after it changed, with certbot's variables
/// (`RENEWED_LINEAGE`, `RENEWED_DOMAINS`) plus `DNS01_CERT_NAME`. A failing hook is reported,
/// never fatal: the certificate is stored either way.
enum DeployHook {
    static let timeout: Duration = .seconds(300)

    /// Returns the failure as one sentence, or nil.
    static func run(_ command: String, certName: String, live: String, domains: [String], events: EventSink) async -> String? {
        let environment = [
            "RENEWED_LINEAGE": live,
            "RENEWED_DOMAINS": domains.joined(separator: " "),
            "DNS01_CERT_NAME": certName,
        ]
        do {
            let output = try await ProcessRunner.run("/bin/sh", arguments: ["-c", command], environment: environment, timeout: timeout)
            if output.timedOut { return report("deploy hook '\(command)' for \(certName) did not finish within \(ProcessRunner.describe(timeout))", events) }
            if output.cancelled { return report("deploy hook '\(command)' for \(certName) was interrupted", events) }
            guard output.status == 0 else {
                let last = output.lastLine.map { ": \($0)" } ?? ""
                return report("deploy hook '\(command)' for \(certName) exited with status \(output.status)\(last)", events)
            }
            events(.step("\(certName): deploy hook '\(command)' done"))
            return nil
        } catch {
            return report("deploy hook '\(command)' for \(certName) could not run: \(error)", events)
        }
    }

    private static func report(_ message: String, _ events: EventSink) -> String {
        events(.warning(message))
        return message
    }
}
