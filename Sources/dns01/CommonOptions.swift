import ArgumentParser
import Dispatch
import DNS01
import FoundationEssentials
import Glibc
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

    /// The config, once its state directory has passed the ownership and mode check (a
    /// directory others may write to is refused before anything is read from it).
    /// `requiresCA`: false for commands that touch only DNS (no `[acme] directory` needed).
    func loadConfiguration(requiresCA: Bool = true) throws -> Configuration {
        let configuration = try Configuration.load(path: Configuration.locate(explicit: config), requiresCA: requiresCA)
        try Journal(stateDir: configuration.acme.stateDir).checkDirectories()
        return configuration
    }
}

/// Runs a command body: bootstraps logging, prints progress, turns SIGINT/SIGTERM/SIGHUP into
/// task cancellation (so presented records are cleaned up before exit; SIGHUP is a dropped ssh
/// session under `dns01 issue`), and turns errors into one sentence on stderr and DESIGN.md's
/// exit status. After a signal it says which records could not be removed, if any.
/// `quiet` drops progress lines unless -v is given (certbot shows a hook's stderr as a warning).
/// `hangupStops`: false for `dns01 serve`, where SIGHUP means "read the certificate again" (the
/// body handles it; until it does, SIGHUP is ignored).
func runCommand(_ options: CommonOptions, quiet: Bool = false, presentsChallenges: Bool = true, hangupStops: Bool = true,
                _ body: @escaping @Sendable (Console) async throws -> Void) async throws {
    let console = Console(json: options.json, quiet: quiet && !options.verbose)
    let verbose = options.verbose
    LoggingSystem.bootstrap { label in
        var handler = ConsoleLogHandler(label: label, console: console)
        handler.logLevel = verbose ? .debug : .warning
        return handler
    }
    // A hook that closes its stdin early must not kill dns01.
    signal(SIGPIPE, SIG_IGN)
    if !hangupStops { signal(SIGHUP, SIG_IGN) }
    let task = Task { try await body(console) }
    let sources = (hangupStops ? [SIGINT, SIGTERM, SIGHUP] : [SIGINT, SIGTERM]).map { number -> any DispatchSourceSignal in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        let what = [SIGINT: "interrupted", SIGHUP: "hung up"][number] ?? "terminated"
        source.setEventHandler {
            console.error(presentsChallenges ? "\(what); removing the records presented so far" : "\(what); stopping")
            task.cancel()
        }
        source.resume()
        return source
    }
    defer { for source in sources { source.cancel() } }
    do {
        try await task.value
    } catch let error as ExitCode {
        throw error
    } catch let error as CleanExit {
        throw error
    } catch is CancellationError {
        let left = Journal.unremovedByThisProcess()
        if !presentsChallenges {
            console.error("Stopped by a signal.")
        } else if left.isEmpty {
            console.error("Stopped by a signal; every record presented was removed.")
        } else {
            console.error("Stopped by a signal; \(left.count) record(s) could not be removed and stay in the journal for the next run: \(ChallengeDeployer.places(left)).")
        }
        throw ExitCode(1)
    } catch {
        console.error(describe(error))
        throw ExitCode(ExitStatus.code(for: error))
    }
}
