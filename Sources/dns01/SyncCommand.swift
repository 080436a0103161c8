import ArgumentParser
import DNS01
import FoundationEssentials
import FoundationShim
import Glibc

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Install the live version of each [[certificate]] from the fleet's PostgreSQL into live/, running its deploy hook when it changed ([storage] type = \"postgres\"). One query when nothing changed: cheap enough for every minute."
    )

    @OptionGroup var common: CommonOptions

    func run() async throws {
        try await runCommand(common, presentsChallenges: false) { console in
            let config = try common.loadConfiguration(requiresCA: false)
            ServiceManager.extendTimeout(to: config.runTimeBound)
            guard !config.certificates.isEmpty else {
                throw UsageError("\(config.path) has no [[certificate]] entries to sync.", code: .notConfigured)
            }
            let state = try await config.openState(migrate: false)
            defer { state.close() }
            guard let summary = try await state.syncLive(nil, config: config, events: console.sink) else {
                throw UsageError("dns01 sync needs [storage] type = \"postgres\" in \(config.path); with directory storage, live/ is the state itself.", code: .notConfigured)
            }
            if common.json {
                console.printJSON(summary)
            } else {
                for item in summary.updated {
                    let hook = item.deployHookError.map { "; deploy hook failed: \($0)" } ?? ""
                    console.result("\(item.name): version \(item.version) installed, valid until \(item.notAfter.formatted(.iso8601))\(hook)")
                }
                for failure in summary.failed {
                    console.result("\(failure.label): not installed (\(failure.error))")
                }
                for name in summary.missing {
                    console.result("\(name): the fleet has no certificate yet (an issuer's `dns01 run` makes it)")
                }
                let failed = summary.failed.isEmpty ? "" : "\(summary.failed.count) not installed, "
                console.result("\(summary.updated.count) updated, \(failed)\(config.certificates.count - summary.updated.count - summary.failed.count - summary.missing.count) unchanged (\(summary.queries) quer\(summary.queries == 1 ? "y" : "ies"), \(summary.seconds.fixed(2))s)")
            }
            let hookFailures = summary.updated.filter { $0.deployHookError != nil }.map(\.name)
            if !summary.failed.isEmpty {
                // Exit 1 naming only what failed; the rest is installed.
                let hooks = hookFailures.isEmpty ? "" : "; the deploy hook failed for \(hookFailures.joined(separator: ", "))"
                throw OperationError("Not installed from the fleet's database: \(summary.failed.map(\.label).joined(separator: ", "))\(hooks); the other certificates are synced.")
            }
            if !hookFailures.isEmpty {
                throw OperationError("The deploy hook failed for \(hookFailures.joined(separator: ", ")); the certificates are installed.")
            }
        }
    }
}
