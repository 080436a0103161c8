import Clocks
import HTTP
import Processes

/// A command line from the config (`deploy_hook`, `[notify] command`) run by `/bin/sh -c` with
/// details in its environment, never in its arguments; dns01's credential variables are withheld
/// from it (`Configuration.childEnvironment`). Its failure is reported as a warning and returned
/// as one sentence, with its last line redacted and clipped; it never fails the run that called it.
enum UserCommand {
    /// Runs `command`; `what` names it in messages ("deploy hook 'x' for a"), `done` is the
    /// step reported on success. Returns the failure, or nil.
    static func run(_ command: String, what: String, done: String, environment: [String: String], timeout: Duration,
                    config: Configuration, events: EventSink) async -> String? {
        func report(_ message: String) -> String {
            events(.warning(message))
            return message
        }
        do {
            let output = try await ProcessRunner.run("/bin/sh", arguments: ["-c", command], environment: environment,
                                                     withholding: config.childEnvironment, timeout: timeout)
            if output.timedOut { return report("\(what) did not finish within \(timeout.configText)") }
            if output.cancelled { return report("\(what) was interrupted") }
            guard output.status == 0 else {
                let last = output.lastFullLine.map { ": " + config.redactor.clip($0, limit: ProcessRunner.Output.lastLineLimit) } ?? ""
                return report("\(what) exited with status \(output.status)\(last)")
            }
            events(.step(done))
            return nil
        } catch {
            return report("\(what) could not run: \(error)")
        }
    }
}
