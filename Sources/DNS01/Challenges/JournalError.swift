/// Why a file in the journal directory is not trusted as an entry dns01 wrote. The description
/// is a clause ("it is owned by uid 1000") that `Journal.scan` puts into its report.
struct JournalError: Error, Sendable, CustomStringConvertible {
    struct Code: RawRepresentable, Hashable, Sendable {
        let rawValue: String
        static let unreadable = Code(rawValue: "unreadable")
        static let untrusted = Code(rawValue: "untrusted")
        static let foreignRecord = Code(rawValue: "foreignRecord")
    }

    var code: Code
    var description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}
