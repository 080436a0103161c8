import Foundation

/// Free loopback ports, checked by binding; every server a test starts gets its port here.
public enum FreePort {
    /// A port free for both UDP and TCP on every one of `hosts`, and not handed out before by
    /// this process: the kernel may offer a port again as soon as the probe closes it, before
    /// the server it was meant for binds it (Pebble once got one port for both its listeners).
    ///
    /// The port lies below the kernel's ephemeral range (`ip_local_port_range`), which the
    /// kernel and BIND draw source ports from. A port from inside it could be taken between
    /// this probe and the server's own bind by any client's socket, BIND's outgoing
    /// NOTIFY/SOA/IXFR sockets included, and a lab's NOTIFY then went nowhere.
    public static func find(on hosts: [String]) throws -> UInt16 {
        let range = candidates()
        for _ in 0..<400 {
            let candidate = UInt16.random(in: range)
            if hosts.allSatisfy({ canBind($0, port: candidate, type: SOCK_STREAM) && canBind($0, port: candidate, type: SOCK_DGRAM) }),
               handedOut.claim(candidate) {
                return candidate
            }
        }
        throw LabError("no free port on \(hosts.joined(separator: ", ")) in \(range.lowerBound)-\(range.upperBound)")
    }

    /// The 16384 ports below the ephemeral range (16384-32767 on a stock kernel), or above it
    /// where it starts too low to leave room below.
    static func candidates(ephemeral: ClosedRange<Int>? = ephemeralRange()) -> ClosedRange<UInt16> {
        let low = ephemeral?.lowerBound ?? 32768
        let high = ephemeral?.upperBound ?? 60999
        if low > 2048 {
            return UInt16(max(1024, low - 16384))...UInt16(low - 1)
        }
        return UInt16(min(high + 1, 65535 - 1024))...65535
    }

    /// `/proc/sys/net/ipv4/ip_local_port_range`, nil where it cannot be read.
    static func ephemeralRange() -> ClosedRange<Int>? {
        guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8) else { return nil }
        let numbers = text.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard numbers.count == 2, numbers[0] >= 1, numbers[0] <= numbers[1], numbers[1] <= 65535 else { return nil }
        return numbers[0]...numbers[1]
    }

    private static let handedOut = Claims()

    private final class Claims: @unchecked Sendable {
        private let lock = NSLock()
        private var ports: Set<UInt16> = []

        /// True the first time `port` is claimed in this process.
        func claim(_ port: UInt16) -> Bool {
            lock.lock()
            defer { lock.unlock() }
            return ports.insert(port).inserted
        }
    }

    private static func canBind(_ host: String, port: UInt16, type: __socket_type) -> Bool {
        if host.contains(":") { return canBind6(host, port: port, type: type) }
        let fd = socket(AF_INET, Int32(type.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    private static func canBind6(_ host: String, port: UInt16, type: __socket_type) -> Bool {
        let fd = socket(AF_INET6, Int32(type.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = port.bigEndian
        guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else { return false }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        } == 0
    }
}
