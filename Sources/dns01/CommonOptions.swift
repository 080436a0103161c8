import ArgumentParser
import DNS01
import Foundation
import Logging
import Providers

/// Flags every subcommand shares, declared once (STYLE.md 9).
struct CommonOptions: ParsableArguments {
    @Option(name: [.short, .customLong("config")], help: "Config file (default: $DNS01_CONFIG, ./dns01.toml, /etc/dns01/dns01.toml).")
    var config: String?

    @Flag(name: .long, help: "Print a machine-readable JSON summary on stdout.")
    var json = false

    @Flag(name: [.short, .long], help: "Log protocol details to stderr.")
    var verbose = false

    func loadConfiguration() throws -> Configuration {
        try Configuration.load(path: Configuration.locate(explicit: config))
    }
}

/// Runs a command body: bootstraps logging, prints progress, turns errors into one sentence on
/// stderr and DESIGN.md's exit status.
func runCommand(_ options: CommonOptions, _ body: (Console) async throws -> Void) async throws {
    let console = Console(json: options.json)
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = options.verbose ? .debug : .warning
        return handler
    }
    do {
        try await body(console)
    } catch let error as ExitCode {
        throw error
    } catch let error as CleanExit {
        throw error
    } catch {
        console.error(describe(error))
        throw ExitCode(ExitStatus.code(for: error))
    }
}
