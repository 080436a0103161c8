import ArgumentParser

@main
struct DNS01Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dns01",
        abstract: "Get TLS certificates from any ACME CA by solving DNS-01 challenges.",
        subcommands: [IssueCommand.self, RunCommand.self, CheckCommand.self, CertbotCommand.self, AccountCommand.self, RevokeCommand.self]
    )
}
