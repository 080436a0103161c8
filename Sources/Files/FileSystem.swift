import FoundationEssentials
import FoundationShim
import Glibc
import Settings

/// A file operation that failed: which file, what was being done, and the system's reason.
public struct FileSystemError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var reason: String
    /// The file is larger than any of the kind it was read as (`FileSystem.ReadLimit`).
    public var tooLarge: Bool
    public var description: String { "Cannot \(operation) \(path): \(reason)." }

    public init(path: String, operation: String, reason: String, tooLarge: Bool = false) {
        self.path = path
        self.operation = operation
        self.reason = reason
        self.tooLarge = tooLarge
    }
}

/// File I/O with the guarantees DESIGN.md asks for: atomic replacement (temp file, fsync,
/// rename, fsync of the directory), modes set at creation so a key is never readable by others
/// even for a moment, and errors that name the file and the system's reason.
public enum FileSystem {
    /// How much of one kind of file dns01 reads, and what that kind is called in the error past
    /// it. Every file is read with one: `/dev/zero`, an endless pipe or a huge file given where a
    /// small one belongs ends in one sentence, not in memory running out.
    public struct ReadLimit: Sendable {
        public var bytes: Int
        /// What a file of this kind is: "a CSR", "a dns01 configuration".
        public var kind: String

        public init(_ bytes: Int, _ kind: String) {
            self.bytes = bytes
            self.kind = kind
        }

        /// `-c FILE`: a config of a thousand certificates is ~200 KB.
        public static let configuration = ReadLimit(1 << 20, "a dns01 configuration")
        /// `--csr FILE`: a few KB even with hundreds of names.
        public static let csr = ReadLimit(64 << 10, "a CSR")
        /// An API token, MAC key, database URL or sealing key file: one line.
        public static let secret = ReadLimit(64 << 10, "a key or token file")
        /// A TSIG key file (BIND's or Knot's format): under 200 bytes.
        public static let tsigKey = ReadLimit(64 << 10, "a TSIG key file")
        /// An AWS shared credentials file: a few profiles.
        public static let credentials = ReadLimit(1 << 20, "an AWS credentials file")
        /// `[acme] ca_bundle`: the CA certificates libcurl trusts (a system bundle is ~200 KB).
        public static let caBundle = ReadLimit(16 << 20, "a CA bundle")
        /// A private key or a certificate chain in PEM.
        public static let pem = ReadLimit(1 << 20, "a PEM key or certificate chain")
        /// dns01's own JSON state: journal entries, run history, account records, hook state.
        public static let state = ReadLimit(16 << 20, "a dns01 state file")
        /// A zone file (or its `$INCLUDE`) the zone-file provider edits.
        public static let zoneFile = ReadLimit(64 << 20, "a zone file")
        /// /proc and /etc files dns01 looks at (process identities, resolv.conf).
        public static let system = ReadLimit(1 << 20, "a system file dns01 reads")

        /// "64 KiB", "1 MiB", or bytes.
        var size: String {
            if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
            if bytes >= 1 << 10 && bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
            return "\(bytes) bytes"
        }
    }

    public static func readText(_ path: String, limit: ReadLimit) throws -> String {
        let bytes = try readBytes(path, limit: limit)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw FileSystemError(path: path, operation: "read", reason: "it is not UTF-8 text")
        }
        return text
    }

    /// The whole file, at most `limit.bytes`; past that, an error saying the file is larger than
    /// any of its kind. A FIFO nobody writes to reads as empty instead of blocking in open(2);
    /// a pipe with a writer (`<(command)`) is read to its end, within the limit.
    public static func readBytes(_ path: String, limit: ReadLimit) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { throw systemError(path, "read") }
        defer { close(fd) }
        let tooLarge = FileSystemError(path: path, operation: "read",
                                       reason: "it is larger than \(limit.size), more than \(limit.kind) ever is", tooLarge: true)
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw systemError(path, "read") }
        if info.st_mode & S_IFMT == S_IFREG && info.st_size > limit.bytes { throw tooLarge }
        // Reads wait again: a pipe's writer may not have written yet (one without a writer ends
        // at once).
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let want = min(buffer.count, limit.bytes + 1 - result.count)
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, want) }
            if count < 0 {
                if errno == EINTR { continue }
                throw systemError(path, "read")
            }
            if count == 0 { return result }
            result.append(contentsOf: buffer[0..<count])
            if result.count > limit.bytes { throw tooLarge }
        }
    }

    /// Writes `bytes` to `path` atomically with `mode`: a reader sees the old file or the new one,
    /// never a part; after a crash the file is the old one or the new one.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644, owner: (uid: uid_t, gid: gid_t)? = nil) throws {
        let directory = directoryName(path)
        let base = baseName(path)
        try createDirectory(directory.isEmpty ? "." : directory)
        let temp = (directory.isEmpty ? "." : directory) + "/.\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var ok = false
        defer {
            if !ok { unlink(temp) }
        }
        try writeSynced(bytes, toNewFile: temp, mode: mode, owner: owner)
        guard rename(temp, path) == 0 else { throw systemError(path, "replace") }
        ok = true
        syncDirectory(directory.isEmpty ? "." : directory)
    }

    /// Creates `path`, which must not exist, with `mode`, writes `bytes` and syncs them. For files
    /// in a directory no reader looks at yet (a certificate version before it goes live): the
    /// caller syncs the directory once after all its files, instead of a rename and a directory
    /// sync per file.
    public static func writeSynced(_ bytes: [UInt8], toNewFile path: String, mode: mode_t = 0o644, owner: (uid: uid_t, gid: gid_t)? = nil) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw systemError(path, "create") }
        defer { close(fd) }
        // The umask may have narrowed the mode; set it exactly.
        guard fchmod(fd, mode) == 0 else { throw systemError(path, "set the mode of") }
        if let owner, fchown(fd, owner.uid, owner.gid) != 0 { throw systemError(path, "set the owner of") }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw systemError(path, "write")
            }
            offset += written
        }
        guard fsync(fd) == 0 else { throw systemError(path, "sync") }
    }

    public static func writeAtomically(_ text: String, to path: String, mode: mode_t = 0o644, owner: (uid: uid_t, gid: gid_t)? = nil) throws {
        try writeAtomically(Array(text.utf8), to: path, mode: mode, owner: owner)
    }

    /// Creates `path` and its parents with `mode` (0700 by default: the state directory holds keys).
    public static func createDirectory(_ path: String, mode: mode_t = 0o700) throws {
        var info = stat()
        if stat(path, &info) == 0 {
            if info.st_mode & S_IFMT == S_IFDIR { return }
            throw FileSystemError(path: path, operation: "create the directory", reason: "a file of that name exists")
        }
        let parent = directoryName(path)
        if !parent.isEmpty, parent != path { try createDirectory(parent, mode: mode) }
        if mkdir(path, mode) == 0 {
            // The umask (the service's UMask=0027) may have narrowed the mode; set it exactly,
            // as for files, so live/ stays 0755 wherever dns01 runs.
            guard chmod(path, mode) == 0 else { throw systemError(path, "set the mode of") }
        } else if errno != EEXIST {
            throw systemError(path, "create the directory")
        }
    }

    /// Creates the directory `path`, which must not exist yet: true when this call created it,
    /// false when something of that name was there already. A directory made this way is this
    /// process's alone (mkdir(2) is atomic), unlike `createDirectory`, which accepts an existing one.
    public static func claimDirectory(_ path: String, mode: mode_t = 0o700) throws -> Bool {
        if mkdir(path, mode) == 0 {
            guard chmod(path, mode) == 0 else { throw systemError(path, "set the mode of") }
            return true
        }
        if errno == EEXIST { return false }
        throw systemError(path, "create the directory")
    }

    /// Refuses a directory that someone other than the user running dns01 (or root) could write
    /// to, as ssh does for its keys: owned by another user, or writable by group or others. A
    /// directory that does not exist yet passes (it is created 0700). `role` names it in the
    /// error ("state_dir", "the journal directory").
    public static func checkPrivateDirectory(_ path: String, role: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw systemError(path, "read the attributes of")
        }
        let mode = info.st_mode & 0o7777
        let user = geteuid()
        if info.st_uid != user && info.st_uid != 0 {
            throw ConfigError("\(role) \(path) is owned by uid \(info.st_uid), not by uid \(user) running dns01 or by root, so dns01 refuses to use it (chown it to uid \(user)).")
        }
        if mode & 0o022 != 0 {
            let who = mode & 0o020 != 0 && mode & 0o002 != 0 ? "group and others" : mode & 0o002 != 0 ? "others" : "its group"
            throw ConfigError("\(role) \(path) is writable by \(who) (mode \(UInt32(mode).zeroPadded(4, radix: 8))), so dns01 refuses to use it (chmod go-w \(path)).")
        }
    }

    /// Mode (permission bits) and owner of an existing file, to keep them when replacing it.
    public static func attributes(_ path: String) throws -> (mode: mode_t, uid: uid_t, gid: gid_t) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw systemError(path, "read the attributes of") }
        return (info.st_mode & 0o7777, info.st_uid, info.st_gid)
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public static func remove(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT { throw systemError(path, "remove") }
    }

    /// rename(2), then fsync of the directory: the new name survives a crash.
    public static func move(_ path: String, to target: String) throws {
        if rename(path, target) != 0 { throw systemError(path, "rename to \(target)") }
        syncDirectory(directoryName(target))
    }

    public static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    public static func systemError(_ path: String, _ operation: String) -> FileSystemError {
        FileSystemError(path: path, operation: operation, reason: String(cString: strerror(errno)))
    }

    /// The names in directory `path` (without "." and ".."), in no order; errors name the
    /// directory and the system's reason.
    public static func list(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else { throw systemError(path, "list") }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Whether `path` is a directory (or a symbolic link to one).
    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// The directory part of `path`, as dirname(1) without its "." : "/a/b" → "/a", "/a" → "/",
    /// "a" → "" (trailing slashes ignored).
    public static func directoryName(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        var parent = trimmed[..<slash]
        while parent.count > 1, parent.hasSuffix("/") { parent = parent.dropLast() }
        return parent.isEmpty ? "/" : String(parent)
    }

    /// `path` with "//" and "." components gone and ".." applied to the component before it,
    /// without a trailing "/" (no symbolic link is followed): "/a/./b/../c/" → "/a/c".
    public static func standardized(_ path: String) -> String {
        var components: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) where component != "." {
            if component == "..", let last = components.last, last != ".." {
                components.removeLast()
            } else if component == "..", path.hasPrefix("/") {
                continue
            } else {
                components.append(component)
            }
        }
        let joined = components.joined(separator: "/")
        return path.hasPrefix("/") ? "/" + joined : (joined.isEmpty ? "." : joined)
    }

    /// The last component of `path`: "/a/b" → "b", "/a/b/" → "b", "/" → "/".
    public static func baseName(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard trimmed != "/", let slash = trimmed.lastIndex(of: "/") else { return String(trimmed) }
        return String(trimmed[trimmed.index(after: slash)...])
    }
}
