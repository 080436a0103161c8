import ArgumentParser
import DNS01
import FoundationEssentials
import Glibc

struct CertbotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certbot",
        abstract: "certbot's --manual-auth-hook and --manual-cleanup-hook, with one propagation wait per certbot run.",
        subcommands: [Auth.self, Cleanup.self]
    )

    struct Auth: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a challenge; on certbot's last one, present them all and wait once until every nameserver serves them."
        )
        @OptionGroup var common: CommonOptions

        func run() async throws {
            try await runCommand(common, quiet: true) { console in
                let call = try CertbotHook.Call(environment: ProcessInfo.processInfo.environment, cleanup: false)
                let config = try common.loadConfiguration(requiresCA: false)
                try await CertbotHook(config: config, events: console.sink).auth(call)
            }
        }
    }

    struct Cleanup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove exactly this challenge's TXT value.")
        @OptionGroup var common: CommonOptions

        func run() async throws {
            try await runCommand(common, quiet: true) { console in
                let call = try CertbotHook.Call(environment: ProcessInfo.processInfo.environment, cleanup: true)
                let config = try common.loadConfiguration(requiresCA: false)
                try await CertbotHook(config: config, events: console.sink).cleanup(call)
            }
        }
    }
}
