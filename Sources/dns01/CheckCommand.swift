import ArgumentParser
import Clocks
import DNS
import DNS01
import FoundationEssentials
import Glibc

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Write, see propagated and delete a probe TXT record for each name, without contacting the CA."
    )

    @OptionGroup var common: CommonOptions

    @Option(name: [.short, .customLong("domain")], help: "A name to check (repeat for more; default: every [[certificate]]'s names).")
    var domains: [String] = []

    func run() async throws {
        try await runCommand(common) { console in
            let names = domains.isEmpty ? [] : try IdentifierList.normalize(domains)
            let config = try common.loadConfiguration(requiresCA: false)
            guard !config.providers.isEmpty else {
                throw UsageError("\(config.path) has no [[provider]]: nothing could write the challenge records (man dns01.toml shows each provider type).",
                                 code: .notConfigured)
            }
            let checkNames = names.isEmpty ? PreflightCheck.defaultNames(config) : names
            guard !checkNames.isEmpty else {
                throw UsageError("Nothing to check: give names with -d NAME or list [[certificate]] entries in \(config.path).")
            }
            let results = await PreflightCheck(config: config, events: console.sink).run(checkNames)
            if common.json {
                console.printJSON(results)
            } else {
                for result in results {
                    let place = [result.recordName.map { $0 == result.challengeName ? $0 : "\(result.challengeName) -> \($0)" },
                                 result.zone.map { "zone \($0)" }, result.provider.map { "provider \($0)" }]
                        .compactMap { $0 }.joined(separator: ", ")
                    let status = result.ok ? "ok" : "FAILED: \(result.error ?? "unknown error")"
                    let elapsed = Duration.milliseconds(Int64(result.seconds * 1000)).elapsedText
                    console.result("\(DomainName.display(result.name)): \(status) (\(place.isEmpty ? elapsed : "\(elapsed); \(place)"))")
                }
            }
            let failed = results.filter { !$0.ok }
            if !failed.isEmpty {
                throw OperationError("\(failed.count) of \(results.count) name(s) failed the check: \(failed.map(\.name).joined(separator: ", ")).")
            }
        }
    }
}
