import Foundation

/// Makes the secondary lag the primary by a fixed time: watches the primary's zone file and
/// journal, and `lag` seconds after each change runs `rndc refresh ZONE` against the secondary,
/// which then fetches the change by IXFR. Deterministic where BIND's own notify-delay is not.
/// A new journal is always a change (a dynamic update); a rewritten zone file only when the SOA
/// serial in it changed (the zone-file provider's edit), not when BIND dumps the zone to its file
/// after start-up or updates: a refresh scheduled then would fetch a later change early.
final class LagFollower: @unchecked Sendable {
    let lag: Int
    let zones: [(name: String, file: String)]
    let rndcConfig: String
    private let lock = NSLock()
    private var running = true
    private var thread: Thread?

    init(lag: Int, zones: [(String, String)], rndcConfig: String) {
        self.lag = lag
        self.zones = zones.map { (name: $0.0, file: $0.1) }
        self.rndcConfig = rndcConfig
    }

    /// The SOA serial written in a zone file: the first number after the SOA record's two names
    /// (both TestLab's files and BIND's dumps put it there); "" when there is none.
    static func fileSerial(_ path: String) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let soa = text.range(of: " SOA ") ?? text.range(of: "\tSOA\t") ?? text.range(of: "\tSOA ") else { return "" }
        var names = 0
        for token in text[soa.upperBound...].split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "(" }) {
            if token.hasPrefix(";") { continue }
            if names < 2 { names += 1; continue }
            return token.allSatisfy(\.isNumber) ? String(token) : ""
        }
        return ""
    }

    func start() {
        let thread = Thread { [self] in self.loop() }
        thread.name = "lab-lag-follower"
        thread.start()
        self.thread = thread
    }

    func stop() {
        lock.lock()
        running = false
        lock.unlock()
    }

    private var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return running
    }

    private func stamp(_ path: String) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { return "-" }
        return "\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec).\(info.st_size)"
    }

    private func loop() {
        var journals = Dictionary(uniqueKeysWithValues: zones.map { ($0.name, stamp($0.file + ".jnl")) })
        var files = Dictionary(uniqueKeysWithValues: zones.map { ($0.name, stamp($0.file)) })
        var serials = Dictionary(uniqueKeysWithValues: zones.map { ($0.name, Self.fileSerial($0.file)) })
        var due: [(at: Date, zone: String)] = []
        let rndc = which("rndc") ?? "/usr/sbin/rndc"
        while isRunning {
            let now = Date()
            for zone in zones {
                var changed = false
                let journal = stamp(zone.file + ".jnl")
                if journal != journals[zone.name] {
                    journals[zone.name] = journal
                    changed = true
                }
                let file = stamp(zone.file)
                if file != files[zone.name] {
                    files[zone.name] = file
                    let serial = Self.fileSerial(zone.file)
                    if serial != serials[zone.name] || serial.isEmpty {
                        serials[zone.name] = serial
                        changed = true
                    }
                }
                if changed { due.append((now.addingTimeInterval(TimeInterval(lag)), zone.name)) }
            }
            while let first = due.first, first.at <= now {
                due.removeFirst()
                _ = try? runCommand(rndc, ["-c", rndcConfig, "refresh", first.zone])
            }
            usleep(20_000)
        }
    }
}
