import Files
import Foundation
import Providers

/// One process, told apart from every other process that ever had its pid: the boot it ran in
/// (`/proc/sys/kernel/random/boot_id`), its pid, and its start time in clock ticks since that
/// boot (`/proc/PID/stat`, field 22, proc(5)). After a reboot, or once the pid is reused, the
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

    static func currentBootID() -> String? {
        guard let text = try? FileSystem.readText("/proc/sys/kernel/random/boot_id", limit: .system) else { return nil }
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return id.isEmpty ? nil : id
    }

    /// Field 22 of /proc/PID/stat. The command name (field 2) may hold spaces and ')', so the
    /// fields are counted after its last ')'.
    static func startTime(of pid: Int32) -> UInt64? {
        guard pid > 0, let stat = try? FileSystem.readText("/proc/\(pid)/stat", limit: .system), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After ')': field 3 (state) is fields[0], so field 22 is fields[19].
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    /// When `pid` started, as a date: the boot time (`btime` in /proc/stat) plus its start
    /// time in clock ticks.
    static func startDate(of pid: Int32) -> Date? {
        guard let ticks = startTime(of: pid), let stat = try? FileSystem.readText("/proc/stat", limit: .system) else { return nil }
        let perSecond = sysconf(Int32(_SC_CLK_TCK))
        guard perSecond > 0,
              let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let bootTime = Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) else { return nil }
        return Date(timeIntervalSince1970: bootTime + Double(ticks) / Double(perSecond))
    }

    static func pidExists(_ pid: Int32) -> Bool {
        pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
    }
}
