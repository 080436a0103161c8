import DNS
import DNS01
import Foundation
import Synchronization

/// Prints progress events to stderr and results to stdout. Progress lines carry the time since
/// the command started, so a user sees where the seconds go.
final class Console: Sendable {
    let json: Bool
    let quiet: Bool
    let start = ContinuousClock.now
    /// When the last "still waiting" line was printed, and what it said.
    private let lastWait = Mutex<(at: ContinuousClock.Instant, text: String)?>(nil)

    init(json: Bool, quiet: Bool = false) {
        self.json = json
        self.quiet = quiet
    }

    var sink: EventSink {
        { [self] event in self.handle(event) }
    }

    func handle(_ event: Event) {
        switch event {
        case .step(let text): if !quiet { line(text) }
        case .warning(let text): line("warning: \(text)")
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
        write("dns01: \(text)\n", to: STDERR_FILENO)
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

    private func line(_ text: String) {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        write(String(format: "[%6.2fs] ", seconds) + text + "\n", to: STDERR_FILENO)
    }

    private func debugLine(_ text: String) {
        if ProcessInfo.processInfo.environment["DNS01_DEBUG_PROGRESS"] != nil { line(text) }
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
