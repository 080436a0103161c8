import FoundationEssentials
import Glibc

/// An exclusive advisory lock (flock(2)) held until `unlock`: on a lock file (created 0600, a
/// symlink refused) or on a directory itself. One owner at a time (hence unchecked Sendable: it
/// moves from the blocking pool that waited for it to its owner). The one flock of dns01.
///
/// A lock file may be removed by its holder (`unlock(removingFile:)`): every taker checks, once
/// it holds the lock, that the file it locked is still the one at `path` (same device and
/// inode), and starts over when it is not. So a process that opened the file just before its
/// holder removed it never believes it holds the lock beside one that locked the new file.
public final class FileLock: @unchecked Sendable {
    private var fd: Int32
    /// The lock file (nil for a directory's own lock).
    private let path: String?

    /// Waits until the lock on `path` is this process's. `directory`: lock the directory
    /// `path` itself (no lock file among its entries).
    public init(path: String, directory: Bool = false) throws {
        if directory {
            fd = try Self.open(path, directory: true)
            guard try Self.lock(fd, path: path, wait: true) else { throw FileSystemError(path: path, operation: "lock", reason: "not granted") }
            self.path = nil
            return
        }
        guard let fd = try Self.lockFile(path, wait: true) else { throw FileSystemError(path: path, operation: "lock", reason: "not granted") }
        self.fd = fd
        self.path = path
    }

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    /// The lock on the lock file `path` if nobody holds it now; nil when another process does.
    public static func attempt(path: String) throws -> FileLock? {
        guard let fd = try lockFile(path, wait: false) else { return nil }
        return FileLock(fd: fd, path: path)
    }

    /// The descriptor of `path`, locked, once it is still the file at `path`; nil when `wait`
    /// is off and another process holds it.
    private static func lockFile(_ path: String, wait: Bool) throws -> Int32? {
        while true {
            let fd = try open(path, directory: false)
            guard try lock(fd, path: path, wait: wait) else {
                close(fd)
                return nil
            }
            var held = stat(), current = stat()
            if fstat(fd, &held) == 0, lstat(path, &current) == 0, held.st_dev == current.st_dev, held.st_ino == current.st_ino {
                return fd
            }
            // Its holder removed it meanwhile: lock the file at `path` now.
            flock(fd, LOCK_UN)
            close(fd)
        }
    }

    /// Unlocks; with `removingFile`, removes the lock file first, while still holding it (a
    /// process waiting on the removed file starts over on a new one).
    public func unlock(removingFile: Bool) {
        guard fd >= 0 else { return }
        if removingFile, let path { unlink(path) }
        unlock()
    }

    /// Runs `body` holding the lock on `path`.
    public static func holding<T>(_ path: String, directory: Bool = false, _ body: () throws -> T) throws -> T {
        let lock = try FileLock(path: path, directory: directory)
        defer { lock.unlock() }
        return try body()
    }

    public func unlock() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { unlock() }

    private static func open(_ path: String, directory: Bool) throws -> Int32 {
        let flags = directory ? O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW : O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW
        let fd = Glibc.open(path, flags, 0o600)
        guard fd >= 0 else {
            throw FileSystemError(path: path, operation: directory ? "open" : "open the lock file", reason: String(cString: strerror(errno)))
        }
        return fd
    }

    /// True when locked; false when `wait` is off and another process holds it.
    private static func lock(_ fd: Int32, path: String, wait: Bool) throws -> Bool {
        while flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            if !wait && errno == EWOULDBLOCK { return false }
            let reason = String(cString: strerror(errno))
            close(fd)
            throw FileSystemError(path: path, operation: "lock", reason: reason)
        }
        return true
    }
}
