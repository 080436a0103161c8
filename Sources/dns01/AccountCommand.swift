import ACME
import ArgumentParser
import DNS01

struct AccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account",
        abstract: "Show, update, roll over or deactivate the ACME account of the configured CA.",
        subcommands: [Show.self, Update.self, Rollover.self, Deactivate.self]
    )

    /// Runs one account action and prints the account as the CA then holds it.
    static func perform(_ common: CommonOptions, _ headline: String,
                        _ action: @escaping @Sendable (AccountActions, Configuration) async throws -> AccountActions.Summary) async throws {
        try await runCommand(common) { console in
            let config = try common.loadConfiguration()
            let summary = try await action(AccountActions(config: config), config)
            if common.json {
                console.printJSON(summary)
                return
            }
            console.result("""
                \(headline) (\(summary.directory))
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
            try await AccountCommand.perform(common, "Account") { actions, _ in try await actions.show() }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send [acme] email to the CA as the account's contact.")
        @OptionGroup var common: CommonOptions
        func run() async throws {
            try await AccountCommand.perform(common, "Contact updated") { actions, _ in try await actions.updateContact() }
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
            let keyType = self.keyType
            try await AccountCommand.perform(common, "Account key replaced") { actions, config in
                try await actions.rollover(to: keyType.flatMap(AccountKeyType.init(rawValue:)) ?? config.acme.accountKeyType)
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
            try await AccountCommand.perform(common, "Account deactivated") { actions, _ in try await actions.deactivate() }
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
