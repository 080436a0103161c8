import ArgumentParser
import DNS
import DNS01
import FoundationEssentials
import Glibc

struct PersistCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "persist",
        abstract: "Set, remove or list dns-persist-01 records (_validation-persist TXT) for this CA and account.",
        discussion: """
        The record lets the CA issue for NAME to this account without a DNS change per order; \
        `dns01 issue` and `dns01 run` answer dns-persist-01 with it when the CA offers it. It is \
        written through the zone's provider and waited for at every authoritative nameserver, \
        and it stays until `dns01 persist --remove`.
        """
    )

    @OptionGroup var common: CommonOptions

    @Option(name: [.short, .customLong("domain")], help: "A name (repeat for more; *.NAME means NAME with --wildcard). --list without -d: every [[certificate]]'s names.")
    var domains: [String] = []

    @Flag(help: "policy=wildcard: the record also covers *.NAME and every name below NAME.")
    var wildcard = false

    @Option(help: "persistUntil: the CA ignores the record after this ISO 8601 date (midnight UTC) or date-time.")
    var until: String?

    @Flag(help: "Remove this CA and account's record(s) at each name; other values stay.")
    var remove = false

    @Flag(help: "Show what every authoritative nameserver serves at each name, and whether it authorizes this CA and account.")
    var list = false

    @Option(help: "The CA's issuer domain name (default: the first caaIdentities entry of its directory).")
    var issuer: String?

    func validate() throws {
        if remove && list { throw ValidationError("--remove and --list do not go together.") }
        if (remove || list) && (wildcard || until != nil) {
            throw ValidationError("--wildcard and --until set a record; they do not go with \(remove ? "--remove" : "--list").")
        }
        if !list && domains.isEmpty { throw ValidationError("Give the names with -d NAME (--list alone lists every [[certificate]]'s names).") }
    }

    func run() async throws {
        try await runCommand(common, presentsChallenges: false) { console in
            let names = domains.isEmpty ? [] : try IdentifierList.normalize(domains, challenge: .dnsPersist01)
            let until = try self.until.map { try PersistActions.parseUntil($0) }
            let issuer = try self.issuer.map(PersistActions.issuerName)
            let config = try common.loadConfiguration()
            let actions = PersistActions(config: config, events: console.sink)
            if list {
                let listNames = names.isEmpty ? PersistActions.defaultNames(config) : names
                guard !listNames.isEmpty else {
                    throw UsageError("Nothing to list: give names with -d NAME or list [[certificate]] entries in \(config.path).")
                }
                let listing = try await actions.list(names: listNames, issuer: issuer)
                if common.json { console.printJSON(listing) } else { show(listing, console) }
                let failed = listing.names.filter { $0.error != nil }
                if !failed.isEmpty {
                    throw OperationError("\(failed.count) of \(listing.names.count) name(s) could not be looked up: \(failed.map(\.name).joined(separator: ", ")).")
                }
            } else if remove {
                let removed = try await actions.remove(names: names, issuer: issuer)
                if common.json { console.printJSON(removed) }
                else {
                    for entry in removed {
                        console.result("\(entry.recordName): " + (entry.removed.isEmpty ? "no record of this CA and account" : "removed \(entry.removed.count) value(s)"))
                    }
                }
            } else {
                let written = try await actions.write(names: names, wildcard: wildcard, until: until, issuer: issuer)
                if common.json { console.printJSON(written) }
                else {
                    for entry in written {
                        let what = entry.written ? "set" : "already set"
                        let replaced = entry.replaced.isEmpty ? "" : "; replaced \(entry.replaced.count) older value(s)"
                        console.result("\(entry.recordName): \(what) \"\(entry.value)\" (zone \(entry.zone), provider \(entry.provider)\(replaced))")
                    }
                }
            }
        }
    }

    private func show(_ listing: PersistActions.Listing, _ console: Console) {
        let account = listing.identity.accountURL ?? "none registered yet"
        console.result("issuer \(listing.identity.issuerNames.joined(separator: ", ")); account \(account)")
        for entry in listing.names {
            guard let recordName = entry.recordName, let zone = entry.zone else {
                console.result("\(entry.validationName): \(entry.error ?? "not looked up")")
                continue
            }
            let place = recordName == entry.validationName ? recordName : "\(entry.validationName) -> \(recordName)"
            let shown = DomainName.display(entry.name)
            let status = entry.authorized
                ? (entry.authorizedWildcard ? "authorizes \(shown) and *.\(entry.name)" : "authorizes \(shown), not *.\(entry.name)")
                : "does not authorize \(shown)"
            console.result("\(place) (zone \(zone), \(entry.answers.count) nameserver address(es)): \(status)")
            if entry.values.isEmpty { console.result("  no TXT values") }
            for value in entry.values {
                let wildcard = value.authorizes && !value.authorizesWildcard ? "; for *.\(entry.name): \(value.wildcardVerdict)" : ""
                console.result("  \"\(value.value)\": \(value.verdict)\(wildcard)")
            }
            if !entry.consistent {
                for answer in entry.answers {
                    let what = answer.error ?? (answer.values.isEmpty ? "no TXT values" : "\(answer.values.count) value(s)")
                    console.result("  servers disagree: \(answer.nameserver): \(what)")
                }
            }
        }
    }
}
