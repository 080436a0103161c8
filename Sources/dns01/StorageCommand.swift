import ArgumentParser
import DNS01
import Storage

struct StorageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Copy a state directory into the [storage] PostgreSQL, or the database into a state directory.",
        subcommands: [Import.self, Export.self]
    )

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy accounts, every certificate version (keeping its number and which is live) and run histories from a state directory into PostgreSQL; what is there already is left as it is."
        )
        @OptionGroup var common: CommonOptions
        @Option(name: .long, help: "The state directory to import (default: [acme] state_dir).")
        var from: String?

        func run() async throws {
            let from = self.from
            try await runCommand(common, presentsChallenges: false) { console in
                let config = try common.loadConfiguration(requiresCA: false)
                let database = try await StorageMigration.open(config, command: "dns01 storage import")
                defer { database.close() }
                let summary = try await StorageMigration(database: database, certificates: config.certificates, events: console.sink)
                    .importDirectory(from ?? config.acme.stateDir)
                if common.json { console.printJSON(summary) } else { console.result(summary.sentence) }
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write PostgreSQL's accounts, certificate versions and run histories into an empty or absent directory, as a state_dir for type = \"directory\"."
        )
        @OptionGroup var common: CommonOptions
        @Option(name: .long, help: "The directory to write (must be empty or absent).")
        var to: String

        func run() async throws {
            let to = self.to
            try await runCommand(common, presentsChallenges: false) { console in
                let config = try common.loadConfiguration(requiresCA: false)
                let database = try await StorageMigration.open(config, command: "dns01 storage export")
                defer { database.close() }
                let summary = try await StorageMigration(database: database, events: console.sink).export(to: to)
                if common.json { console.printJSON(summary) } else { console.result(summary.sentence) }
            }
        }
    }
}
