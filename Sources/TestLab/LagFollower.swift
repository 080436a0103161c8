import Foundation

/// Makes the secondary lag the primary by a fixed time: watches the primary's zone file and
/// journal, and `lag` seconds after each change of the zone's SOA serial runs `rndc refresh
/// ZONE` against the secondary, which then fetches the change by IXFR. Deterministic where BIND's
/// own notify-delay is not. A file change that leaves the serial as it was (BIND dumping the zone
/// to its file a while after an update or after start-up) schedules nothing: a refresh it
/// scheduled would fetch a later change early, shortening that change's lag.
final class LagFollower: @unchecked Sendable {
    let lag: Int
    let zones: [(name: String, file: String)]
    let rndcConfig: String
    /// The primary, "127.0.0.1:PORT", asked for the serial.
    let primary: String
    private let lock = NSLock()
    private var running = true
    private var thread: Thread?

    init(lag: Int, zones: [(String, String)], rndcConfig: String, primary: String) {
        self.lag = lag
        self.zones = zones.map { (name: $0.0, file: $0.1) }
        self.rndcConfig = rndcConfig
        self.primary = primary
    }

    /// The zone's SOA serial at the primary, "" when it cannot be read.
    private func serial(_ zone: String) -> String {
        let parts = primary.split(separator: ":")
        guard parts.count == 2, let result = try? runCommand(which("dig") ?? "/usr/bin/dig",
                                                             ["+short", "+norecurse", "+time=1", "+tries=1", "@\(parts[0])", "-p", String(parts[1]), "SOA", zone])
        else { return "" }
        return result.output.split(separator: " ").dropFirst(2).first.map(String.init) ?? ""
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
        // Each zone's serial as last seen: read once the primary answers (it starts with the lab).
        var serials: [String: String] = [:]
        var due: [(at: Date, zone: String)] = []
        let rndc = which("rndc") ?? "/usr/sbin/rndc"
        while isRunning {
            let now = Date()
            for zone in zones where serials[zone.name] == nil {
                let first = serial(zone.name)
                if !first.isEmpty { serials[zone.name] = first }
            }
            for zone in zones {
                let current = stamp(zone.file) + stamp(zone.file + ".jnl")
                if current != seen[zone.name] {
                    seen[zone.name] = current
                    let now = serial(zone.name)
                    // Unreadable: refresh all the same, a missed change would never reach the secondary.
                    if now.isEmpty || (serials[zone.name] != nil && now != serials[zone.name]) {
                        due.append((Date().addingTimeInterval(TimeInterval(lag)), zone.name))
                    }
                    if !now.isEmpty { serials[zone.name] = now }
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
