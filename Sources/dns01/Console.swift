import Clocks
import CoreFoundation
import DNS
import DNS01
import FoundationEssentials
import Glibc
import Synchronization

/// Prints progress events to stderr and results to stdout. Progress lines carry the time since
/// the command started, so a user sees where the seconds go.
///
/// When stderr is the systemd journal (a service or timer unit), each stderr line starts with
/// its syslog priority as sd-daemon(3) defines it: `<3>` an error, `<4>` a warning, `<6>` a
/// progress line, `<7>` a debug line. journald strips the prefix and files the line at that
/// level, so `journalctl -p warning -u dns01` shows what went wrong. On a terminal, in a pipe or
/// in a file (cron's mail) the lines stay as they are.
final class Console: Sendable {
    let json: Bool
    let quiet: Bool
    let start = ContinuousClock.now
    /// True when stderr is the journal: lines carry a `Priority` prefix.
    let prefixesPriority: Bool
    /// When the last "still waiting" line was printed, and what it said.
    private let lastWait = Mutex<(at: ContinuousClock.Instant, text: String)?>(nil)

    init(json: Bool, quiet: Bool = false, prefixesPriority: Bool = Console.stderrIsJournal()) {
        self.json = json
        self.quiet = quiet
        self.prefixesPriority = prefixesPriority
    }

    /// Syslog priorities (RFC 5424 §6.2.1) as sd-daemon(3)'s SD_ERR … SD_DEBUG prefixes.
    enum Priority: Int, Sendable {
        case error = 3, warning = 4, notice = 5, info = 6, debug = 7

        var prefix: String { "<\(rawValue)>" }
    }

    /// systemd.exec(5): a unit whose stderr goes to the journal gets `JOURNAL_STREAM=DEV:INODE`
    /// naming that stream, so a process can tell that its stderr is the journal (and not a
    /// terminal, pipe or file it inherited the variable past). Both numbers are decimal.
    static func stderrIsJournal(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard isatty(STDERR_FILENO) == 0, let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(STDERR_FILENO, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    var sink: EventSink {
        { [self] event in self.handle(event) }
    }

    func handle(_ event: Event) {
        switch event {
        case .step(let text): if !quiet { line(text) }
        case .warning(let text): line("warning: \(text)", priority: .warning)
        case .propagation(.visible(let name, let nameserver)): debugLine("\(name) visible at \(nameserver)")
        case .job(let name, let phase): debugLine("\(name): \(phase.rawValue)")
        case .propagation(.round(let pending, let satisfied, let total)):
            guard !quiet, let first = pending.first else { return }
            // Which server still lacks which name: at most one line every 2 s, and only when
            // the picture changed.
            let others = pending.count > 1 ? " and \(pending.count - 1) more" : ""
            let why = first.lastAnswer.map { " (\($0))" } ?? ""
            let text = "\(satisfied)/\(total) visible; \(first.nameserver) still lacks \(first.name)\(why)\(others)"
            let now = ContinuousClock.now
            let due = lastWait.withLock { last -> Bool in
                if let last, last.text == text || now - last.at < .seconds(2) { return false }
                last = (now, text)
                return true
            }
            if due { line(text) }
        }
    }

    func error(_ text: String) {
        write(prefixed(.error, "dns01: \(text)"), to: STDERR_FILENO)
    }

    /// A JSON document on stdout.
    func printJSON<T: Encodable>(_ value: T) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        if let data = try? encoder.encode(value), let text = String(data: data, encoding: .utf8) {
            write(text + "\n", to: STDOUT_FILENO)
        }
    }

    func result(_ text: String) {
        write(text + "\n", to: STDOUT_FILENO)
    }

    private func line(_ text: String, priority: Priority = .info) {
        var stamp = (ContinuousClock.now - start).elapsedText
        while stamp.count < 7 { stamp = " " + stamp }
        write(prefixed(priority, "[\(stamp)] " + text), to: STDERR_FILENO)
    }

    private func debugLine(_ text: String) {
        if Self.debugProgress { line(text, priority: .debug) }
    }

    /// DNS01_DEBUG_PROGRESS, read once: `ProcessInfo.environment` builds a new dictionary of the
    /// whole environment on every call (4.6 % of a 300-name run's CPU when read per event).
    private static let debugProgress = ProcessInfo.processInfo.environment["DNS01_DEBUG_PROGRESS"] != nil

    /// A swift-log line (`ConsoleLogHandler`), with its priority prefix.
    func logLine(_ priority: Priority, _ text: String) {
        write(prefixed(priority, text), to: STDERR_FILENO)
    }

    /// `text` as stderr lines: each line (a hook's quoted output may hold several) with the
    /// priority prefix when stderr is the journal, which reads every line on its own.
    func prefixed(_ priority: Priority, _ text: String) -> String {
        guard prefixesPriority else { return text + "\n" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { priority.prefix + $0 + "\n" }.joined()
    }

    /// One write(2) per line, so lines from concurrent tasks never interleave.
    private func write(_ text: String, to descriptor: Int32) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
