import ArgumentParser
import DNS01
import Serve

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve acme-dns's HTTP API (/register, /update, /health) in front of the [serve] provider."
    )

    @OptionGroup var common: CommonOptions

    func run() async throws {
        try await runCommand(common, presentsChallenges: false, hangupStops: false) { console in
            let config = try common.loadConfiguration(requiresCA: false)
            try await ServeServer.serve(config: config) { line in console.logLine(.info, line) }
        }
    }
}
