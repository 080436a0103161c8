import ArgumentParser
import DNS
import DNS01
import FoundationShim

struct IssueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue",
        abstract: "Obtain one certificate for the given names now."
    )

    @OptionGroup var common: CommonOptions

    @Option(name: [.short, .customLong("domain")], help: "A name for the certificate (repeat for more; '*.example.com' for a wildcard).")
    var domains: [String] = []

    @Option(name: .long, help: "Use this [[provider]] for every name instead of choosing by zone.")
    var provider: String?

    @Option(name: .long, help: "Key type of the certificate: ec256, ec384, rsa2048, rsa3072, rsa4096.")
    var keyType: String = "ec256"

    @Option(name: .long, help: "Name of the certificate's directory under live/ (default: the first name without '*.').")
    var certName: String?

    @Option(name: .long, help: "Send this CSR (PEM or DER) instead of making a key; the names come from it and no privkey.pem is written.")
    var csr: String?

    @Option(name: .long, help: "Ask the CA for this certificate profile (when its directory lists profiles).")
    var profile: String?

    @Option(name: .long, help: "Use only this challenge type: dns-01, dns-account-01 or dns-persist-01 (default: dns-persist-01 when the CA offers it and a matching record is served, else dns-01).")
    var challenge: String?

    @Flag(name: .long, help: "Do not record the certificate for `dns01 run` to renew (and forget an earlier record of it).")
    var noRenew = false

    func validate() throws {
        if let challenge, ChallengeKind(rawValue: challenge) == nil {
            throw ValidationError("Challenge type '\(challenge)' is not one of \(ChallengeKind.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        if csr != nil {
            guard domains.isEmpty else { throw ValidationError("Give either --csr FILE or -d NAME, not both: with --csr the names come from the CSR.") }
            return
        }
        guard !domains.isEmpty else { throw ValidationError("Give at least one name with -d NAME.") }
        guard KeyType(rawValue: keyType) != nil else {
            throw ValidationError("Key type '\(keyType)' is not one of \(KeyType.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
    }

    /// `--key-type`, already checked by `validate()`; a sentence, never a trap, if it is not.
    static func keyType(_ text: String) throws -> KeyType {
        guard let type = KeyType(rawValue: text) else {
            throw UsageError("Key type '\(text)' is not one of \(KeyType.allCases.map(\.rawValue).joined(separator: ", ")).", code: .invalidArgument)
        }
        return type
    }

    func run() async throws {
        try await runCommand(common) { console in
            // Names are checked before the config is read or anyone is contacted.
            let kind = challenge.flatMap(ChallengeKind.init(rawValue:))
            let request = if let csr {
                try IssueRequest(certName: certName, csr: CSRInput(path: csr), provider: provider, profile: profile, challenge: kind)
            } else {
                try IssueRequest(certName: certName, domains: domains, keyType: try Self.keyType(keyType), provider: provider,
                                 profile: profile, challenge: kind)
            }
            let config = try common.loadConfiguration()
            // With fleet storage, versions go to the shared database (under the fleet's lock).
            let state = try await config.openState()
            defer { state.close() }
            // A placeholder first when the [[certificate]] asks for one; a live placeholder's key is reused.
            let prepared = try await CertificateStore.prepareIssue(request, config: config, events: console.sink, state: state)
            var result = try await Issuer(config: config, events: console.sink, state: state).issue(prepared)
            let renewal = IssuedRecordStore.afterIssue(prepared, config: config, noRenew: noRenew)
            result.renewal = renewal.renewal
            if common.json {
                console.printJSON(result)
            } else {
                console.result("\(result.live) (\(result.domains.map(DomainName.display).joined(separator: ", "))) issued in \(result.seconds.fixed(2))s")
                console.result(renewal.message)
            }
        }
    }
}
