import ArgumentParser
import DNS
import DNS01
import FoundationEssentials
import FoundationShim
import Glibc

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Issue or renew every [[certificate]] in the config that is due, all with one propagation wait."
    )

    @OptionGroup var common: CommonOptions

    @Flag(name: .long, help: "Issue every certificate, due or not, backing off or given up (its failure streak is reset).")
    var force = false

    @Flag(name: .long, help: "Rehearse: obtain every certificate from [acme] staging_directory (Let's Encrypt's staging for its production URL, else the directory itself) and throw it away; nothing stored in live/, no deploy hook, no run history. Exit status as a real run.")
    var dryRun = false

    @Flag(name: .long, help: "With [storage] type = \"postgres\": wait for a certificate another machine is working on (up to [acme] order_timeout plus [dns] propagation_timeout) instead of skipping it.")
    var waitLock = false

    func run() async throws {
        try await runCommand(common) { console in
            let config = try common.loadConfiguration()
            ServiceManager.extendTimeout(to: config.runTimeBound)
            // The [[certificate]] entries and what `dns01 issue` recorded for renewal.
            let batch = BatchRun(config: config, events: console.sink)
            guard !batch.config.certificates.isEmpty else {
                throw UsageError("\(config.path) has no [[certificate]] entries to run, and `dns01 issue` recorded none in \(IssuedRecordStore(stateDir: config.acme.stateDir).directory).", code: .notConfigured)
            }
            let summary = try await batch.run(force: force, dryRun: dryRun, waitLock: waitLock ? config.fleetLockWait : nil)
            if common.json {
                console.printJSON(summary)
            } else {
                for item in summary.certificates where item.status != .skipped {
                    if summary.dryRun && item.status == .issued {
                        let until = item.notAfter.map { ", valid until \($0.formatted(.iso8601))" } ?? ""
                        console.result("\(item.name): obtained (dry run: not stored\(until); a real run: \(item.reason ?? "not-due"))")
                        continue
                    }
                    let detail = item.error ?? item.deployHookError.map { "deploy hook failed: \($0)" } ?? item.reason ?? ""
                    let placeholder = item.placeholder == true ? "; live/\(item.name) holds a self-signed placeholder" : ""
                    console.result("\(DomainName.display(item.name)): \(item.status.rawValue)\(detail.isEmpty ? "" : " (\(detail))")\(placeholder)")
                }
                let held = summary.backingOff > 0 ? ", \(summary.backingOff) backing off" : ""
                let givenUp = summary.givenUp > 0 ? ", \(summary.givenUp) given up" : ""
                let limited = summary.rateLimited > 0 ? ", \(summary.rateLimited) rate limited" : ""
                console.result((summary.dryRun ? "dry run: \(summary.issued) obtained and discarded, " : "\(summary.issued) issued, ") + "\(summary.skipped) not due, \(summary.failed) failed\(held)\(givenUp)\(limited) in \(summary.seconds.fixed(2))s")
            }
            if let lost = summary.storageLost { throw OperationError(lost, code: .storageLost) }
            if summary.failed > 0 {
                let names = summary.names(.failed)
                throw OperationError("\(summary.failed) certificate(s) failed: \(names.joined(separator: ", ")).", code: .certificatesFailed)
            }
            if summary.givenUp > 0 {
                let names = summary.names(.givenUp)
                throw OperationError("\(summary.givenUp) certificate(s) given up after failing for their give_up_after: \(names.joined(separator: ", ")) (`dns01 run --force` resets and retries).", code: .certificatesFailed)
            }
            // Refused by the CA: exit 1. Left for a later run by max_new_orders: as planned, exit 0.
            let refused = summary.certificates.filter { $0.status == .rateLimited && $0.reason != "max-new-orders" }
            if !refused.isEmpty {
                let until = refused.compactMap(\.retryAt).max()
                throw OperationError("\(refused.count) certificate(s) due but rate limited by the CA\(until.map { " until \($0.formatted(.iso8601)) at the latest" } ?? ""): \(refused.map(\.name).joined(separator: ", ")) (the next run after that time tries them).", code: .certificatesFailed)
            }
            if summary.backingOff > 0 {
                let names = summary.names(.backingOff)
                throw OperationError("\(summary.backingOff) certificate(s) due but backing off after failed attempts: \(names.joined(separator: ", ")) (`dns01 run --force` retries now).", code: .certificatesFailed)
            }
        }
    }
}
