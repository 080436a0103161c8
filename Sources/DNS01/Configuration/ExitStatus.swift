import ACME
import DNS
import Providers
import Settings


/// How the CLI ends on an error: DESIGN.md's exit status, 2 for bad usage or config, 1 for an
/// operation that failed.
public enum ExitStatus {
    public static func code(for error: any Error) -> Int32 {
        switch error {
        case is UsageError, is ConfigError: return 2
        case let error as DNSError where error.code == .invalidName: return 2
        default: return 1
        }
    }
}

/// One sentence for any error, for the user: never a Swift dump.
public func describe(_ error: any Error) -> String {
    let text = String(describing: error)
    return text.hasSuffix(".") || text.hasSuffix(")") ? text : text + "."
}
