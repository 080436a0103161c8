import FoundationEssentials
import Glibc

/// What dns01 reads of Linux's /proc (proc(5)): a process's status line, its command line, and
/// the boot it runs in. Every read is bounded; a process that is gone, or a system without
/// /proc, gives nil.
public enum ProcFS {
    /// The fields of `/proc/PID/stat` dns01 uses.
    public struct Stat: Sendable, Equatable {
        /// Field 4: the parent's pid.
        public var parent: Int32
        /// Field 22: when the process started, in clock ticks since boot.
        public var startTicks: UInt64
    }

    /// `/proc/PID/stat`. The command name (field 2) may hold spaces and ')', so the fields are
    /// counted after its last ')'.
    public static func stat(of pid: Int32) -> Stat? {
        guard pid > 0, let text = try? FileSystem.readText("/proc/\(pid)/stat", limit: .system) else { return nil }
        return parseStat(text)
    }

    static func parseStat(_ text: String) -> Stat? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        // After ')': field 3 (state) is fields[0], so field 4 is fields[1] and field 22 fields[19].
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let parent = Int32(fields[1]), let start = UInt64(fields[19]) else { return nil }
        return Stat(parent: parent, startTicks: start)
    }

    /// The first two words of `/proc/PID/cmdline` (the program, and an interpreter's script),
    /// each without its directory.
    public static func commandWords(of pid: Int32) -> [String]? {
        guard pid > 0, let bytes = try? FileSystem.readBytes("/proc/\(pid)/cmdline", limit: .system) else { return nil }
        return bytes.split(separator: 0, omittingEmptySubsequences: false).prefix(2).map { word in
            let text = String(decoding: word, as: UTF8.self)
            return text.split(separator: "/").last.map(String.init) ?? text
        }
    }

    /// `/proc/sys/kernel/random/boot_id`: a new value after every boot.
    public static func bootID() -> String? {
        guard let text = try? FileSystem.readText("/proc/sys/kernel/random/boot_id", limit: .system) else { return nil }
        let id = text.filter { !$0.isWhitespace }
        return id.isEmpty ? nil : id
    }

    /// When `pid` started: the boot time (`btime` in /proc/stat) plus its start in clock ticks.
    public static func startDate(of pid: Int32) -> Date? {
        guard let ticks = stat(of: pid)?.startTicks,
              let text = try? FileSystem.readText("/proc/stat", limit: .system) else { return nil }
        let perSecond = sysconf(Int32(_SC_CLK_TCK))
        guard perSecond > 0,
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let bootTime = Double(line.dropFirst(6).filter { !$0.isWhitespace }) else { return nil }
        return Date(timeIntervalSince1970: bootTime + Double(ticks) / Double(perSecond))
    }
}
