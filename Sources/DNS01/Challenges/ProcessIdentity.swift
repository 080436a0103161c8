import Files
import FoundationEssentials
import Glibc
import Providers

/// One process, told apart from every other process that ever had its pid: the boot it ran in
/// (`ProcFS.bootID`), its pid, and its start time in clock ticks since that boot
/// (`ProcFS.stat`). After a reboot, or once the pid is reused, the
/// identity names a process that no longer exists, so a journal entry it wrote is an orphan.
public struct ProcessIdentity: Sendable, Codable, Hashable {
    public var bootID: String
    public var pid: Int32
    public var startTime: UInt64

    public init(bootID: String, pid: Int32, startTime: UInt64) {
        self.bootID = bootID
        self.pid = pid
        self.startTime = startTime
    }

    /// The running process `pid`, or nil when there is none (or /proc cannot tell).
    public static func of(pid: Int32) -> ProcessIdentity? {
        guard pid > 0, let bootID = currentBootID(), let startTime = startTime(of: pid) else { return nil }
        return ProcessIdentity(bootID: bootID, pid: pid, startTime: startTime)
    }

    /// This process.
    public static func current() -> ProcessIdentity? { of(pid: getpid()) }

    /// Whether the process this identity names still runs. Without /proc (not Linux) only the
    /// pid can be asked.
    public var isRunning: Bool {
        guard let boot = Self.currentBootID() else { return Self.pidExists(pid) }
        guard boot == bootID else { return false }
        guard let now = Self.startTime(of: pid) else { return false }
        return now == startTime
    }

    static func currentBootID() -> String? { ProcFS.bootID() }

    static func startTime(of pid: Int32) -> UInt64? { ProcFS.stat(of: pid)?.startTicks }

    static func startDate(of pid: Int32) -> Date? { ProcFS.startDate(of: pid) }

    static func pidExists(_ pid: Int32) -> Bool {
        pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
    }
}
