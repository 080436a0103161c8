import ArgumentParser
import DNS01

struct AccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account",
        abstract: "Show, update, roll over or deactivate the ACME account of the configured CA.",
        subcommands: [Show.self, Update.self, Rollover.self, Deactivate.self]
    )

    static func report(_ console: Console, _ json: Bool, _ summary: AccountActions.Summary, _ headline: String) {
        if json {
            console.printJSON(summary)
        } else {
            console.result("""
                \(headline)
                  url:        \(summary.url)
                  status:     \(summary.status)
                  contact:    \(summary.contact.isEmpty ? "(none)" : summary.contact.joined(separator: ", "))
                  key:        \(summary.key)
                  thumbprint: \(summary.thumbprint)
                """)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the account as the CA holds it.")
        @OptionGroup var common: CommonOptions
        func run() async throws {
            try await runCommand(common) { console in
                let summary = try await AccountActions(config: common.loadConfiguration()).show()
                AccountCommand.report(console, common.json, summary, "Account at \(summary.directory)")
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send [acme] email to the CA as the account's contact.")
        @OptionGroup var common: CommonOptions
        func run() async throws {
            try await runCommand(common) { console in
                let summary = try await AccountActions(config: common.loadConfiguration()).updateContact()
                AccountCommand.report(console, common.json, summary, "Contact updated")
            }
        }
    }

    struct Rollover: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replace the account key with a new one (RFC 8555 §7.3.5).")
        @OptionGroup var common: CommonOptions
        @Option(name: .long, help: "Type of the new key: ec256, ec384, rsa2048, rsa3072, rsa4096 (default: [acme] account_key_type).")
        var keyType: String?

        func validate() throws {
            if let keyType, AccountKeyType(rawValue: keyType) == nil {
                throw ValidationError("Key type '\(keyType)' is not one of \(AccountKeyType.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
        }

        func run() async throws {
            try await runCommand(common) { console in
                let config = try common.loadConfiguration()
                let type = keyType.flatMap(AccountKeyType.init(rawValue:)) ?? config.acme.accountKeyType
                let summary = try await AccountActions(config: config).rollover(to: type)
                AccountCommand.report(console, common.json, summary, "Account key replaced")
            }
        }
    }

    struct Deactivate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deactivate the account for good; the next issue registers a new one.")
        @OptionGroup var common: CommonOptions
        @Flag(name: .long, help: "Confirm: the CA cannot reactivate an account.")
        var yes = false

        func validate() throws {
            guard yes else { throw ValidationError("Deactivation cannot be undone; add --yes to confirm.") }
        }

        func run() async throws {
            try await runCommand(common) { console in
                let summary = try await AccountActions(config: common.loadConfiguration()).deactivate()
                AccountCommand.report(console, common.json, summary, "Account deactivated")
            }
        }
    }
}

struct RevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke a stored certificate with the account key."
    )

    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "The certificate's name under live/.")
    var certName: String

    @Option(name: .long, help: "unspecified, keyCompromise, affiliationChanged, superseded or cessationOfOperation.")
    var reason: String?

    func run() async throws {
        try await runCommand(common) { console in
            let live = try await AccountActions(config: common.loadConfiguration()).revoke(certName: certName, reason: reason)
            if common.json {
                console.printJSON(["revoked": live])
            } else {
                console.result("\(live)/cert.pem revoked")
            }
        }
    }
}
