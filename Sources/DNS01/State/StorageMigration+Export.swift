import ACME
import Blocking
import CoreFoundation
import Files
import FoundationEssentials
import FoundationShim
import Glibc
import Storage

/// `dns01 storage export`: the database as a state directory that works with `type =
/// "directory"` (DESIGN.md, "State directory"), laid out as `CertificateStore`, `AccountStore`
/// and `RunHistoryStore` write it: `archive/NAME/NNNN/` (0755) with privkey.pem (0600),
/// cert.pem, chain.pem and fullchain.pem, `live/NAME` a link to `../archive/NAME/NNNN`,
/// `accounts/<ca host>/` and `history/NAME.json` (0600), directories holding keys 0700.
extension StorageMigration {
    public struct ExportSummary: Sendable, Codable, Equatable {
        public var to: String
        public var server: String
        public var certificates = 0
        public var versions = 0
        public var accounts = 0
        public var histories = 0
        public var notes: [String] = []

        public var sentence: String {
            let what = ImportSummary.list(certificates, versions, accounts, histories)
            return what.map { "Exported \($0) from PostgreSQL at \(server) to \(to)." }
                ?? "PostgreSQL at \(server) holds nothing to export; \(to) is empty."
        }
    }

    /// Everything read from the database before a file is written.
    struct Snapshot {
        var certificates: [(name: String, live: Int?, versions: [StoredVersion])] = []
        var accounts: [StoredAccount] = []
        var histories: [String: String] = [:]
    }

    /// Writes the database's state into `directory`, which must be empty or absent, on the
    /// `BlockingPool`.
    public func export(to directory: String) async throws -> ExportSummary {
        try await BlockingPool.shared.run { try self.exportNow(to: directory) }
    }

    func exportNow(to directory: String) throws -> ExportSummary {
        try Self.checkEmpty(directory)
        let snapshot = try readSnapshot()
        var summary = ExportSummary(to: directory, server: database.connection.serverName)
        try FileSystem.createDirectory(directory)

        var accountDirectories: [String: String] = [:]
        for account in snapshot.accounts {
            let acme = Configuration.ACME(directory: account.directory, agreeTOS: false, stateDir: directory, concurrency: 1, accountKeyType: .ec256)
            let path = AccountStore(config: acme).directory
            if let other = accountDirectories[path] {
                let text = "the accounts for \(other) and \(account.directory) both belong in \(path); exported the first only"
                summary.notes.append(text)
                events(.warning(text))
                continue
            }
            accountDirectories[path] = account.directory
            try FileSystem.writeAtomically(account.recordJSON, to: "\(path)/account.json", mode: 0o600)
            try FileSystem.writeAtomically(account.keyPEM, to: "\(path)/account.key", mode: 0o600)
            if let next = account.nextKeyPEM { try FileSystem.writeAtomically(next, to: "\(path)/account.key.next", mode: 0o600) }
            summary.accounts += 1
        }

        for certificate in snapshot.certificates where !certificate.versions.isEmpty {
            let archive = "\(directory)/archive/\(certificate.name)"
            try FileSystem.createDirectory(archive)
            for version in certificate.versions {
                try Self.write(version, into: "\(archive)/\(Self.directoryName(version.version))")
                summary.versions += 1
            }
            FileSystem.syncDirectory(archive)
            if let live = certificate.live {
                try FileSystem.createDirectory("\(directory)/live", mode: 0o755)
                let link = "\(directory)/live/\(certificate.name)"
                guard symlink("../archive/\(certificate.name)/\(Self.directoryName(live))", link) == 0 else {
                    throw FileSystem.systemError(link, "create the symlink")
                }
            }
            summary.certificates += 1
        }
        if snapshot.certificates.contains(where: { $0.live != nil }) { FileSystem.syncDirectory("\(directory)/live") }

        let history = RunHistoryStore(stateDir: directory)
        for (name, json) in snapshot.histories.sorted(by: { $0.key < $1.key }) {
            try FileSystem.writeAtomically(json, to: history.path(name), mode: 0o600)
            summary.histories += 1
        }
        return summary
    }

    /// "0007", as `CertificateStore` names versions.
    static func directoryName(_ version: Int) -> String { version.zeroPadded(4) }

    /// One version's directory and files, as `CertificateStore.saveNow` writes them.
    static func write(_ version: StoredVersion, into path: String) throws {
        let blocks = CertificateChain.pemBlocks(version.chainPEM)
        guard let leaf = blocks.first else {
            throw OperationError("Version \(version.version) of \(version.name) in PostgreSQL holds no PEM certificate, so \(path) cannot be written.")
        }
        guard try FileSystem.claimDirectory(path, mode: 0o755) else {
            throw FileSystemError(path: path, operation: "create the directory", reason: "it exists already")
        }
        var files: [(name: String, text: String, mode: mode_t)] = [
            ("cert.pem", leaf, 0o644), ("chain.pem", blocks.dropFirst().joined(), 0o644), ("fullchain.pem", blocks.joined(), 0o644),
        ]
        if let key = version.keyPEM { files.insert(("privkey.pem", key, 0o600), at: 0) }
        for file in files {
            try FileSystem.writeSynced(Array(file.text.utf8), toNewFile: "\(path)/\(file.name)", mode: file.mode)
        }
        FileSystem.syncDirectory(path)
    }

    /// Reads every certificate version (opening every key), account and history; checks the
    /// names and numbers before they become paths (the database is shared: outside input).
    func readSnapshot() throws -> Snapshot {
        var snapshot = Snapshot()
        for (name, live) in try database.certificates() {
            try Self.checkName(name)
            let versions = try database.versions(of: name)
            for version in versions where !StateDirectoryContents.versionNumbers.contains(version.version) {
                throw OperationError("PostgreSQL at \(database.connection.serverName) holds version \(version.version) of \(name), a number a state directory cannot hold.")
            }
            if let live, !versions.contains(where: { $0.version == live }) {
                throw OperationError("PostgreSQL at \(database.connection.serverName) names version \(live) of \(name) live, but holds no such version.")
            }
            snapshot.certificates.append((name, live, versions))
        }
        snapshot.accounts = try database.accounts()
        snapshot.histories = try database.allHistories()
        for name in snapshot.histories.keys { try Self.checkName(name) }
        return snapshot
    }

    private static func checkName(_ name: String) throws {
        do {
            try CertificateStore.validateCertName(name)
        } catch {
            throw OperationError("PostgreSQL holds a certificate named '\(name.prefix(60))', which is not usable as a directory name, so nothing was exported.")
        }
    }

    /// Refuses a directory that holds anything (exit 2): an export never mixes with other state.
    static func checkEmpty(_ directory: String) throws {
        var info = stat()
        guard lstat(directory, &info) == 0 else {
            if errno == ENOENT { return }
            throw FileSystem.systemError(directory, "read the attributes of")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw UsageError("\(directory) exists and is not a directory; export into an empty or absent directory.")
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        guard entries.isEmpty else {
            throw UsageError("\(directory) is not empty (it holds \(entries.count) \(entries.count == 1 ? "entry" : "entries")); export into an empty or absent directory.")
        }
    }
}
