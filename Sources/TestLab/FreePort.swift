import Foundation

/// Free loopback ports, checked by binding.
enum FreePort {
    /// A port free for both UDP and TCP on every one of `hosts`, and not handed out before by
    /// this process: the kernel may offer a port again as soon as the probe closes it, before
    /// the server it was meant for binds it (Pebble once got one port for both its listeners).
    static func find(on hosts: [String]) throws -> UInt16 {
        for _ in 0..<200 {
            guard let candidate = bindAny(host: hosts[0]) else { continue }
            if hosts.allSatisfy({ canBind($0, port: candidate, type: SOCK_STREAM) && canBind($0, port: candidate, type: SOCK_DGRAM) }),
               handedOut.claim(candidate) {
                return candidate
            }
        }
        throw LabError("no free port on \(hosts.joined(separator: ", "))")
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

    private static func bindAny(host: String) -> UInt16? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        inet_pton(AF_INET, host, &address.sin_addr)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { return nil }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    private static func canBind(_ host: String, port: UInt16, type: __socket_type) -> Bool {
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
}
