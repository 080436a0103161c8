import Foundation

/// An exclusive advisory lock (flock) on a lock file, held until `unlock`; one owner at a time
/// (hence unchecked Sendable: it moves from the blocking pool that waited for it to its owner).
public final class FileLock: @unchecked Sendable {
    private var fd: Int32

    public init(path: String) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileSystemError(path: path, operation: "open the lock file", reason: String(cString: strerror(errno))) }
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let reason = String(cString: strerror(errno))
            close(fd)
            throw FileSystemError(path: path, operation: "lock", reason: reason)
        }
    }

    public func unlock() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { unlock() }
}
