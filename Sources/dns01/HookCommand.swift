import ArgumentParser
import DNS01
import FoundationEssentials
import Glibc

/// Hook modes for ACME clients other than certbot (which has its own `dns01 certbot`): the
/// client keeps its account and orders, dns01 presents the records, waits, and removes them.
/// No `[acme]` section is needed.
struct HookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hook",
        abstract: "Be another ACME client's DNS-01 hook (dehydrated, uacme, lego): present, wait until every nameserver serves the records, clean up.",
        subcommands: [Dehydrated.self, Uacme.self, Lego.self]
    )

    struct Dehydrated: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "dehydrated's HOOK: deploy_challenge presents every challenge of the call and waits once (HOOK_CHAIN=yes: the whole certificate); clean_challenge removes them; other events are ignored."
        )
        @OptionGroup var common: CommonOptions
        @Argument(parsing: .captureForPassthrough, help: "What dehydrated passes: EVENT [DOMAIN TOKEN_FILENAME TOKEN_VALUE]...")
        var arguments: [String] = []

        func run() async throws {
            try await runCommand(common, quiet: true) { console in
                let call = try DehydratedHook.Call(arguments: arguments)
                if case .ignored = call { return }
                let config = try common.loadConfiguration(requiresCA: false)
                try await DehydratedHook(config: config, events: console.sink).run(call)
            }
        }
    }

    struct Uacme: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "uacme's -h hook: begin presents the dns-01 record and waits until every nameserver serves it (other types are declined: exit 1); done/failed remove it."
        )
        @OptionGroup var common: CommonOptions
        @Argument(parsing: .captureForPassthrough, help: "What uacme passes: METHOD TYPE IDENT TOKEN KEY_AUTH.")
        var arguments: [String] = []

        func run() async throws {
            try await runCommand(common, quiet: true) { console in
                let call = try UacmeHook.Call(arguments: arguments)
                if case .decline = call { throw ExitCode(1) }
                let config = try common.loadConfiguration(requiresCA: false)
                guard try await UacmeHook(config: config, events: console.sink).run(call) else { throw ExitCode(1) }
            }
        }
    }

    struct Lego: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "lego's exec provider (EXEC_PATH): present FQDN VALUE writes the record and waits until every nameserver serves it; cleanup removes it. EXEC_MODE=RAW (-- DOMAIN TOKEN KEY_AUTH) too."
        )
        @OptionGroup var common: CommonOptions
        @Argument(parsing: .captureForPassthrough, help: "What lego passes: present|cleanup FQDN VALUE, or with EXEC_MODE=RAW present|cleanup -- DOMAIN TOKEN KEY_AUTH.")
        var arguments: [String] = []

        func run() async throws {
            try await runCommand(common, quiet: true) { console in
                let call = try LegoHook.parse(arguments)
                let config = try common.loadConfiguration(requiresCA: false)
                try await LegoHook(config: config, events: console.sink).run(call)
            }
        }
    }
}
