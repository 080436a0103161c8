import Foundation

/// Makes the secondary lag the primary by a fixed time: watches the primary's zone file and
/// journal, and `lag` seconds after each change runs `rndc refresh ZONE` against the secondary,
/// which then fetches the change by IXFR. Deterministic where BIND's own notify-delay is not.
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
        var seen = Dictionary(uniqueKeysWithValues: zones.map { ($0.name, stamp($0.file) + stamp($0.file + ".jnl")) })
        var due: [(at: Date, zone: String)] = []
        let rndc = which("rndc") ?? "/usr/sbin/rndc"
        while isRunning {
            let now = Date()
            for zone in zones {
                let current = stamp(zone.file) + stamp(zone.file + ".jnl")
                if current != seen[zone.name] {
                    seen[zone.name] = current
                    due.append((now.addingTimeInterval(TimeInterval(lag)), zone.name))
                }
            }
            while let first = due.first, first.at <= now {
                due.removeFirst()
                _ = try? runCommand(rndc, ["-c", rndcConfig, "refresh", first.zone])
            }
            usleep(20_000)
        }
    }
}
