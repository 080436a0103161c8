import CBuildInfo

/// What `dns01 --version` prints. The version number lives here and nowhere else: scripts/package
/// takes the Debian package's version from the built binary's `--version`, so the two cannot
/// disagree. The commit is there when `scripts/package` built the binary from a git checkout
/// (`-dirty` when the tree had uncommitted changes); a plain `swift build` leaves it out.
enum Version {
    static let number = "0.1.0"

    static var commit: String? {
        let text = String(cString: dns01_build_commit())
        return text.isEmpty ? nil : text
    }

    /// `0.1.0`, or `0.1.0 (git 1a2b3c4d5e6f)`.
    static var description: String {
        commit.map { "\(number) (git \($0))" } ?? number
    }
}
