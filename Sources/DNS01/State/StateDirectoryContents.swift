import ACME
import CoreFoundation
import Files
import FoundationEssentials
import Glibc
import Storage
import SwiftASN1
import X509

/// What a state directory holds, read whole and checked before anything of it is stored
/// elsewhere (`dns01 storage import`): the accounts under `accounts/<ca host>/`, every version
/// of every certificate under `archive/NAME/NNNN/` and which one `live/NAME` is, and the run
/// histories under `history/`.
///
/// `live/NAME` is a symlink to `../archive/NAME/NNNN` when dns01 wrote it; a plain directory
/// (certbot's layout, whose files link into its own archive, or an older dns01) is read as one
/// version of its own: the archived version it equals, or one numbered past the highest.
/// An archived version without `cert.pem` (a write cut short) is left out, with a note. A
/// version whose `privkey.pem` is not the key of its `cert.pem`, a file that is not what its
/// name says, or a live link to a version that cannot be read, is an error: nothing is
/// imported from a directory that holds one.
struct StateDirectoryContents: Sendable {
    struct CertificateEntry: Sendable {
        var name: String
        /// Oldest first.
        var versions: [StoredVersion]
        /// The number of the version `live/NAME` is; nil when there is no `live/NAME`.
        var live: Int?
    }

    var directory: String
    var accounts: [StoredAccount] = []
    var certificates: [CertificateEntry] = []
    /// Run history JSON by certificate name.
    var histories: [String: String] = [:]
    /// What was left out, and why.
    var notes: [String] = []

    /// Version numbers dns01 writes (`CertificateStore.claimVersion`): four digits or more,
    /// bounded so that a planted name cannot overflow anything.
    static let versionNumbers = 1..<9_999_000

    static func read(_ directory: String) throws -> StateDirectoryContents {
        guard FileSystem.isDirectory(directory) else {
            throw UsageError("The state directory \(directory) to import does not exist or is not a directory.")
        }
        var contents = StateDirectoryContents(directory: directory)
        try contents.readAccounts()
        try contents.readCertificates()
        contents.readHistories()
        return contents
    }

    // MARK: - Accounts

    /// The part of account.json the database is keyed by.
    private struct RecordDirectory: Decodable { var directory: String }

    private mutating func readAccounts() throws {
        let root = "\(directory)/accounts"
        for host in Self.entries(root) where Self.isDirectory("\(root)/\(host)") {
            let path = "\(root)/\(host)"
            guard FileSystem.exists("\(path)/account.json") else {
                notes.append("\(path) holds no account.json: not imported")
                continue
            }
            guard FileSystem.exists("\(path)/account.key") else {
                notes.append("\(path) holds no account.key ([acme] account_key_file keeps the key elsewhere): not imported")
                continue
            }
            let record = try FileSystem.readText("\(path)/account.json", limit: .state)
            guard let ca = try? JSONDecoder().decode(RecordDirectory.self, from: Data(record.utf8)).directory, !ca.isEmpty else {
                throw OperationError("\(path)/account.json names no CA directory URL (\"directory\"), so the account cannot be imported; fix or remove it.")
            }
            let key = try Self.accountKey("\(path)/account.key")
            let next = FileSystem.exists("\(path)/account.key.next") ? try Self.accountKey("\(path)/account.key.next") : nil
            if accounts.contains(where: { $0.directory == ca }) {
                notes.append("\(path) is a second account for \(ca), and the database keeps one per CA: not imported")
                continue
            }
            accounts.append(StoredAccount(directory: ca, recordJSON: record, keyPEM: key, nextKeyPEM: next))
        }
    }

    /// The PEM text of an account key, checked to be one.
    private static func accountKey(_ path: String) throws -> String {
        let text = try FileSystem.readText(path, limit: .pem)
        do {
            _ = try AccountKey(pemRepresentation: text)
        } catch {
            throw OperationError("\(path) is not an account key dns01 can use (\(describe(error))), so the account cannot be imported; fix or remove it.")
        }
        return text
    }

    // MARK: - Certificates

    private mutating func readCertificates() throws {
        let names = Set(Self.entries("\(directory)/archive").filter { Self.isDirectory("\(directory)/archive/\($0)") }
                        + Self.entries("\(directory)/live").filter { Self.isDirectory("\(directory)/live/\($0)") })
        for name in names.sorted() {
            do {
                try CertificateStore.validateCertName(name)
            } catch {
                notes.append("\(directory): '\(name.prefix(60))' is not a certificate name dns01 uses: not imported")
                continue
            }
            if let entry = try readCertificate(name) { certificates.append(entry) }
        }
    }

    private mutating func readCertificate(_ name: String) throws -> CertificateEntry? {
        let archive = "\(directory)/archive/\(name)"
        var versions: [StoredVersion] = []
        var entryNames: [Int: String] = [:]
        for entry in Self.entries(archive) {
            // Numbered directories only: certbot keeps cert1.pem … files in its archive/NAME.
            guard let number = Int(entry), Self.versionNumbers.contains(number), Self.isDirectory("\(archive)/\(entry)", following: false) else { continue }
            guard entryNames[number] == nil else {
                throw OperationError("\(archive) holds version \(number) twice (\(entryNames[number] ?? "") and \(entry)); remove one before importing.")
            }
            entryNames[number] = entry
            guard FileSystem.exists("\(archive)/\(entry)/cert.pem") else {
                notes.append("\(archive)/\(entry) holds no cert.pem (a write cut short?): not imported")
                continue
            }
            versions.append(try Self.readVersion(at: "\(archive)/\(entry)", name: name, number: number))
        }
        versions.sort { $0.version < $1.version }

        let live = "\(directory)/live/\(name)"
        var liveNumber: Int?
        if let target = Self.linkTarget(live) {
            if let number = Self.archivedVersion(live: live, target: target, name: name, archive: archive, entries: entryNames) {
                guard versions.contains(where: { $0.version == number }) else {
                    throw OperationError("\(live) points at \(target), which holds no cert.pem; fix the link before importing.")
                }
                liveNumber = number
            }
        }
        if liveNumber == nil, Self.isDirectory(live) {
            // A live directory of its own (or a link elsewhere): one version, unless it is an
            // archived one under another path.
            guard FileSystem.exists("\(live)/cert.pem") else {
                notes.append("\(live) holds no cert.pem: not imported as a version")
                return versions.isEmpty ? nil : CertificateEntry(name: name, versions: versions, live: nil)
            }
            let number = (entryNames.keys.max() ?? 0) + 1
            guard Self.versionNumbers.contains(number) else {
                throw OperationError("\(archive) has no version number left for \(live); remove old versions before importing.")
            }
            let version = try Self.readVersion(at: live, name: name, number: number)
            if let same = versions.first(where: { $0.chainPEM == version.chainPEM && $0.keyPEM == version.keyPEM }) {
                liveNumber = same.version
            } else {
                versions.append(version)
                liveNumber = version.version
            }
        }
        guard !versions.isEmpty else { return nil }
        return CertificateEntry(name: name, versions: versions, live: liveNumber)
    }

    /// The version number `live/NAME` links to when its target is `archive/NAME/NNNN` of this
    /// directory (as dns01 writes it, `../archive/NAME/NNNN`, or any path that resolves there).
    private static func archivedVersion(live: String, target: String, name: String, archive: String, entries: [Int: String]) -> Int? {
        if target.hasPrefix("../archive/\(name)/"), let number = Int(target.dropFirst("../archive/\(name)/".count)),
           entries[number] != nil {
            return number
        }
        guard let resolved = realPath(live) else { return nil }
        return entries.first { realPath("\(archive)/\($0.value)") == resolved }?.key
    }

    static func realPath(_ path: String) -> String? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }

    /// One version from the PEM files in `path`: the chain rebuilt leaf first as
    /// `CertificateStore` writes it (cert.pem, then chain.pem, or fullchain.pem's rest), the key
    /// as it is, the names and notAfter from the leaf.
    static func readVersion(at path: String, name: String, number: Int) throws -> StoredVersion {
        let certText = try FileSystem.readText("\(path)/cert.pem", limit: .pem)
        guard let leafPEM = CertificateChain.pemBlocks(certText).first else {
            throw OperationError("\(path)/cert.pem holds no PEM certificate; fix or remove that version before importing.")
        }
        let leaf: Certificate
        do {
            leaf = try Certificate(pemEncoded: leafPEM)
        } catch {
            throw OperationError("\(path)/cert.pem cannot be read as a certificate (\(error)); fix or remove that version before importing.")
        }
        var rest: [String] = []
        if FileSystem.exists("\(path)/chain.pem") {
            rest = CertificateChain.pemBlocks(try FileSystem.readText("\(path)/chain.pem", limit: .pem))
        } else if FileSystem.exists("\(path)/fullchain.pem") {
            rest = Array(CertificateChain.pemBlocks(try FileSystem.readText("\(path)/fullchain.pem", limit: .pem)).dropFirst())
        }
        var keyPEM: String?
        if FileSystem.exists("\(path)/privkey.pem") {
            let text = try FileSystem.readText("\(path)/privkey.pem", limit: .pem)
            let key: Certificate.PrivateKey
            do {
                key = try Certificate.PrivateKey(pemEncoded: text)
            } catch {
                throw OperationError("\(path)/privkey.pem cannot be read as a private key; fix or remove that version before importing.")
            }
            guard key.publicKey == leaf.publicKey else {
                throw OperationError("\(path)/privkey.pem is not the key of \(path)/cert.pem, so nothing was imported; remove or fix that version first.")
            }
            keyPEM = text
        }
        return StoredVersion(name: name, version: number, chainPEM: ([leafPEM] + rest).joined(), keyPEM: keyPEM,
                             names: RenewalPlan.subjectAlternativeNames(leaf), notAfter: leaf.notValidAfter)
    }

    // MARK: - Run history

    private mutating func readHistories() {
        let root = "\(directory)/history"
        for entry in Self.entries(root) where entry.hasSuffix(".json") {
            let name = String(entry.dropLast(".json".count))
            guard (try? CertificateStore.validateCertName(name)) != nil else { continue }
            guard let text = try? FileSystem.readText("\(root)/\(entry)", limit: .state),
                  (try? JSONDecoder().decode(JSONObject.self, from: Data(text.utf8))) != nil else {
                notes.append("\(root)/\(entry) is not a JSON run history: not imported")
                continue
            }
            histories[name] = text
        }
    }

    // MARK: - Files

    /// The names in `path` (none when it does not exist), hidden ones (a link being replaced,
    /// a temp file) left out.
    static func entries(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    static func isDirectory(_ path: String, following: Bool = true) -> Bool {
        var info = stat()
        guard (following ? stat(path, &info) : lstat(path, &info)) == 0 else { return false }
        return info.st_mode & S_IFMT == S_IFDIR
    }

    /// What the symlink `path` points at; nil when it is not a symlink.
    static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Any JSON object, its members unread: what a run history file must at least be.
private struct JSONObject: Decodable {
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        _ = try decoder.container(keyedBy: Key.self)
    }
}
