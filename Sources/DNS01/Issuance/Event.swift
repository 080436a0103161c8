import DNS

/// What a run reports while it works, for the CLI to show (a live line on a TTY, log lines
/// otherwise, nothing with --json).
public enum Event: Sendable {
    /// A step worth one line: "presented 2 records in example.test via 'lab' (rfc2136)".
    case step(String)
    /// Something went wrong that does not stop the run (a failed cleanup, a failed deploy hook).
    case warning(String)
    /// Progress of the propagation wait.
    case propagation(PropagationEvent)
    /// A certificate's issuance moved to another phase.
    case job(name: String, phase: JobPhase)
}

public typealias EventSink = @Sendable (Event) -> Void
