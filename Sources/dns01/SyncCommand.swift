import ArgumentParser
import DNS01
import Foundation

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
                throw UsageError("\(config.path) has no [[certificate]] entries to sync.")
            }
            guard let fleet = try await config.storage.open(migrate: false) else {
                throw UsageError("dns01 sync needs [storage] type = \"postgres\" in \(config.path); with directory storage, live/ is the state itself.")
            }
            defer { fleet.close() }
            let summary = try await FleetSync(config: config, fleet: fleet, events: console.sink).run()
            if common.json {
                console.printJSON(summary)
            } else {
                for item in summary.updated {
                    let hook = item.deployHookError.map { "; deploy hook failed: \($0)" } ?? ""
                    console.result("\(item.name): version \(item.version) installed, valid until \(item.notAfter.formatted(.iso8601))\(hook)")
                }
                for name in summary.missing {
                    console.result("\(name): the fleet has no certificate yet (an issuer's `dns01 run` makes it)")
                }
                console.result("\(summary.updated.count) updated, \(config.certificates.count - summary.updated.count - summary.missing.count) unchanged (\(summary.queries) quer\(summary.queries == 1 ? "y" : "ies"), \(String(format: "%.2f", summary.seconds))s)")
            }
            let hookFailures = summary.updated.filter { $0.deployHookError != nil }.map(\.name)
            if !hookFailures.isEmpty {
                throw OperationError("The deploy hook failed for \(hookFailures.joined(separator: ", ")); the certificates are installed.")
            }
        }
    }
}
