import ACME
import Blocking
import Files
import FoundationEssentials
import FoundationShim
import Glibc
import Providers
import Storage
import SwiftASN1
import X509

/// The certificates under `state_dir` (DESIGN.md, "State directory"):
///
///     archive/<name>/<version>/privkey.pem (0600), cert.pem, chain.pem, fullchain.pem
///     live/<name> -> ../archive/<name>/<version>
///
/// Each version is written in full in its own directory, then `live/<name>` is switched to it by
/// renaming a new symlink over the old one. A reader of `live/<name>/…` therefore sees the whole
/// old set or the whole new set, never a new key with an old certificate; previous versions stay
/// in `archive/`.
///
/// A new version is first recorded by the `StateStore` (with fleet storage, stored in
/// PostgreSQL and made live there in one transaction, under the number it gets there); it is
/// then written here. With shared state the database is the truth and this directory the
/// machine's working copy, which `dns01 sync` brings up to date.
public struct CertificateStore: Sendable {
    public let stateDir: String
    /// Where versions are recorded before they are written here.
    let state: any StateStore

    public init(state: any StateStore) {
        stateDir = state.stateDir
        self.state = state
    }

    /// The certificates of `stateDir` alone (directory storage).
    public init(stateDir: String) {
        self.init(state: DirectoryStateStore(stateDir: stateDir))
    }

    public func liveDirectory(_ name: String) -> String { "\(stateDir)/live/\(name)" }
    func archiveDirectory(_ name: String) -> String { "\(stateDir)/archive/\(name)" }

    /// Longest certificate name: a directory name with room for the files made beside it.
    public static let maximumCertNameLength = 200

    /// A certificate name becomes a directory name: letters, digits, '.', '-', '_' only.
    public static func validateCertName(_ name: String) throws {
        guard name.count <= maximumCertNameLength else {
            throw UsageError("Certificate name '\(name)' is \(name.count) characters long, more than the \(maximumCertNameLength) of a certificate name.", code: .invalidArgument)
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
        guard !name.isEmpty, !name.hasPrefix("."), name.allSatisfy(allowed.contains) else {
            throw UsageError("Certificate name '\(name)' is not usable as a directory name (letters, digits, '.', '-', '_'; not starting with '.').", code: .invalidArgument)
        }
    }

    /// Stores a new version and makes it live, on the `BlockingPool` (every file is fsynced),
    /// without checking it: the write half of `install`, which every path that makes a version
    /// live goes through; called directly only by tests of the files.
    /// `chainPEM` is the chain as the CA served it, leaf first. `privateKeyPEM` is nil when the
    /// certificate came from a CSR: the user's own (`--csr`), whose key never passes through
    /// dns01, or one made with a key already stored for `name` (a placeholder's): that key,
    /// found in live/ or archive/ by the leaf's public key, goes into the new version too
    /// (`storedKey(name:matching:)`), so live/ never lacks the key it had.
    /// Callers hold the certificate's `CertificateLock`.
    @discardableResult
    func save(name: String, privateKeyPEM: String?, chainPEM: String) async throws -> String {
        try await BlockingPool.shared.run { try self.saveNow(name: name, privateKeyPEM: privateKeyPEM, chainPEM: chainPEM) }
    }

    /// `save`, on the calling thread.
    func saveNow(name: String, privateKeyPEM: String?, chainPEM: String) throws -> String {
        try storeNow(name: name, privateKeyPEM: privateKeyPEM, chainPEM: chainPEM, source: .new).live
    }

    /// Writes a version from `source` and makes it live. `.new`: with fleet storage, stored in
    /// the database first as its next version, then written here under that number; the stored
    /// key matching the leaf is carried over when `privateKeyPEM` is nil. `.fleet`: the
    /// database's version, written under its number while live/ is still what it was when the
    /// database was asked. `changed` is false when this call did not move live/ (another
    /// process of this machine made the version live first, or moved live/ on meanwhile).
    func storeNow(name: String, privateKeyPEM: String?, chainPEM: String,
                  source: Candidate.Source) throws -> (live: String, version: Int?, changed: Bool) {
        let blocks = CertificateChain.pemBlocks(chainPEM)
        guard let leaf = blocks.first else {
            throw FileSystemError(path: liveDirectory(name), operation: "store the certificate in", reason: "the CA's chain holds no certificate")
        }
        if case .fleet(let number, let seen) = source {
            let written = try write(name: name, version: number, key: privateKeyPEM, blocks: blocks, whileLive: .version(seen))
            return (written.live, number, written.changed)
        }
        let key = privateKeyPEM ?? storedKey(name: name, matching: leaf)
        let number = try state.recordVersion(name: name, blocks: blocks, keyPEM: key)
        let written = try write(name: name, version: number, key: key, blocks: blocks)
        return (written.live, number, written.changed)
    }

    /// When `write` may move live/ to a fleet version.
    enum LiveCondition {
        /// Whatever live/ is (a version this machine just stored in the database).
        case any
        /// Only while live/ is still this version (nil: none): what it was when the database
        /// was asked. Otherwise another process of this machine installed something since.
        case version(Int?)
    }

    /// Writes a version into archive/`name`/ and makes it live: numbered `version` (the fleet's
    /// number; an existing directory of that number is replaced) or the next free number.
    /// `changed` is false when live/ was left as it was: the fleet version is live already, or
    /// live/ is no longer what `whileLive` expects (decided under the state directory's install
    /// lock, so of two processes installing one version exactly one makes it live, and only
    /// that one runs its deploy hook).
    func write(name: String, version number: Int?, key: String?, blocks: [String],
               whileLive condition: LiveCondition = .any) throws -> (live: String, changed: Bool) {
        guard let leaf = blocks.first else {
            throw FileSystemError(path: liveDirectory(name), operation: "store the certificate in", reason: "the chain holds no certificate")
        }
        // A fleet version is written under a lock of this state directory: `dns01 sync` from a
        // timer and `dns01 run` on one machine may install the same number at the same moment.
        var installLock: FileLock?
        defer { installLock?.unlock() }
        if let number {
            try FileSystem.createDirectory("\(stateDir)/locks")
            installLock = try FileLock(path: "\(stateDir)/locks/fleet-install.lock")
            let current = liveVersionNumber(name)
            if current == number { return (liveDirectory(name), false) }
            if case .version(let seen) = condition, current != seen { return (liveDirectory(name), false) }
        }
        let archive = archiveDirectory(name)
        try FileSystem.createDirectory(archive)
        let version = try number.map { try claimVersion($0.zeroPadded(4), in: archive, leaf: leaf) } ?? claimVersion(in: archive)
        let versionDirectory = "\(archive)/\(version)"
        // Nobody reads the new version until the live link points at it: each file is written and
        // synced in place, the directory synced once, then the link replaced atomically.
        // A version that could not be written whole is taken away again: the files this call
        // created and the directory it claimed, nothing else.
        var files: [(name: String, text: String, mode: mode_t)] = [
            ("cert.pem", leaf, 0o644), ("chain.pem", blocks.dropFirst().joined(), 0o644), ("fullchain.pem", blocks.joined(), 0o644),
        ]
        if let key { files.insert(("privkey.pem", key, 0o600), at: 0) }
        var written: [String] = []
        do {
            for file in files {
                let path = "\(versionDirectory)/\(file.name)"
                try FileSystem.writeSynced(Array(file.text.utf8), toNewFile: path, mode: file.mode)
                written.append(path)
            }
        } catch {
            for path in written { unlink(path) }
            rmdir(versionDirectory)
            throw error
        }
        FileSystem.syncDirectory(versionDirectory)

        let liveParent = "\(stateDir)/live"
        try FileSystem.createDirectory(liveParent, mode: 0o755)
        let live = liveDirectory(name)
        let temp = "\(liveParent)/.\(name).tmp-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        guard symlink("../archive/\(name)/\(version)", temp) == 0 else { throw FileSystem.systemError(temp, "create the symlink") }
        guard rename(temp, live) == 0 else {
            let error = FileSystem.systemError(live, "replace")
            unlink(temp)
            throw error
        }
        FileSystem.syncDirectory(liveParent)
        return (live, true)
    }

    /// The live certificate, if there is one.
    public func currentCertificate(_ name: String) throws -> Certificate? {
        let path = "\(liveDirectory(name))/cert.pem"
        guard FileSystem.exists(path) else { return nil }
        return try Certificate(pemEncoded: FileSystem.readText(path, limit: .pem))
    }

    /// Versions searched for a stored key, newest first.
    static let keySearchLimit = 20

    /// The PEM of a private key stored for `name` (live/, then the newest archive versions)
    /// whose public key is that of the certificate `leafPEM`; nil when there is none.
    func storedKey(name: String, matching leafPEM: String) -> String? {
        guard let leaf = try? Certificate(pemEncoded: leafPEM) else { return nil }
        let archive = archiveDirectory(name)
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: archive)) ?? [])
            .compactMap { entry in Int(entry).map { (number: $0, entry: entry) } }
            .sorted { $0.number > $1.number }.prefix(Self.keySearchLimit).map(\.entry)
        for directory in [liveDirectory(name)] + versions.map({ "\(archive)/\($0)" }) {
            let path = "\(directory)/privkey.pem"
            guard FileSystem.exists(path), let text = try? FileSystem.readText(path, limit: .pem),
                  let key = try? Certificate.PrivateKey(pemEncoded: text), key.publicKey == leaf.publicKey else { continue }
            return text
        }
        return nil
    }

    /// The fleet version number live/`name` points at ("../archive/NAME/0007" → 7), nil when
    /// there is no live link (or it is not one dns01 wrote).
    public func liveVersionNumber(_ name: String) -> Int? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: liveDirectory(name)),
              let last = target.split(separator: "/").last, last.count <= 9 else { return nil }
        return Int(last)
    }

    /// Claims archive/`name`/`version` for the fleet's version of that number. A directory
    /// already there holding the same certificate (a sync interrupted before its link flip) is
    /// replaced; one holding another certificate (versions written here before the state was
    /// shared, and not imported) is kept, renamed `NNNN.replaced-<time>`: nothing is lost.
    private func claimVersion(_ version: String, in archive: String, leaf: String) throws -> String {
        let path = "\(archive)/\(version)"
        if FileSystem.exists(path) {
            let same = (try? FileSystem.readText("\(path)/cert.pem", limit: .pem)) == leaf
            let stamp = Int(Date().timeIntervalSince1970)
            let aside = same ? "\(archive)/.\(version).old-\(getpid())-\(stamp)" : "\(archive)/\(version).replaced-\(stamp)-\(getpid())"
            guard rename(path, aside) == 0 else { throw FileSystem.systemError(path, "move aside") }
            if same { try? FileManager.default.removeItem(atPath: aside) }
        }
        guard try FileSystem.claimDirectory(path, mode: 0o755) else {
            throw FileSystemError(path: path, operation: "create", reason: "another process created it at the same moment")
        }
        return version
    }

    /// Claims the next version directory: one past the highest, created with mkdir(2), which
    /// fails when another writer got there first; then the number after that is tried. The
    /// directory this returns was created by this call and belongs to it alone.
    private func claimVersion(in archive: String) throws -> String {
        let entries = try FileSystem.list(archive)
        // Bounded, so a number in a planted directory name cannot overflow.
        var number = entries.compactMap { Int($0) }.filter { (0..<9_999_000).contains($0) }.max() ?? 0
        for _ in 0..<1000 {
            number += 1
            let version = number.zeroPadded(4)
            if try FileSystem.claimDirectory("\(archive)/\(version)", mode: 0o755) { return version }
        }
        throw FileSystemError(path: archive, operation: "add a version to", reason: "1,000 version numbers in a row were taken")
    }
}
