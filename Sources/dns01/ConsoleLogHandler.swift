import FoundationEssentials
import Glibc
import Logging

/// swift-log's lines (protocol details under -v, the core's warnings) on stderr, as
/// `StreamLogHandler` writes them, but with the syslog priority prefix of `Console` when stderr
/// is the journal, so a logged warning is filed as one.
struct ConsoleLogHandler: LogHandler {
    let console: Console
    let label: String
    var inner: StreamLogHandler

    init(label: String, console: Console) {
        self.console = console
        self.label = label
        inner = StreamLogHandler.standardError(label: label)
    }

    var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { inner.metadataProvider }
        set { inner.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        guard console.prefixesPriority else { return inner.log(event: event) }
        // One line, prefixed: the text is the stream handler's own format.
        let priority: Console.Priority = switch event.level {
        case .critical, .error: .error
        case .warning: .warning
        case .notice: .notice
        case .info: .info
        case .debug, .trace: .debug
        }
        var text = "\(event.level) \(label): \(event.message)"
        let merged = inner.metadata.merging(event.metadata ?? [:]) { $1 }
        if !merged.isEmpty {
            text += " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        console.logLine(priority, text)
    }
}
