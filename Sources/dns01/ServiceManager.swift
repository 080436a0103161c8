import Clocks
import FoundationEssentials
import Glibc

/// The sd_notify(3) protocol, for the one message dns01 sends its service manager: when the
/// config's own bounds exceed the unit's `TimeoutStartSec`, `EXTEND_TIMEOUT_USEC` (systemd ≥ 236)
/// lets the run take them. Outside a unit (no `NOTIFY_SOCKET`) it does nothing.
enum ServiceManager {
    /// Sends `EXTEND_TIMEOUT_USEC=<duration>` to `$NOTIFY_SOCKET` (a path, or `@name` in the
    /// abstract namespace). A socket that is missing or refuses the datagram is not an error: the
    /// unit's own timeout then stands.
    static func extendTimeout(to duration: Duration, environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let socketPath = environment["NOTIFY_SOCKET"], !socketPath.isEmpty else { return }
        send("EXTEND_TIMEOUT_USEC=\(duration.wholeMicroseconds)", to: socketPath)
    }

    private static func send(_ message: String, to socketPath: String) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !path.isEmpty, path.count < capacity else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
        }
        // sun_path follows sun_family (sys/un.h); an abstract name's length is exact, no NUL.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(message.utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sockaddrPointer, length) }
            }
        }
    }
}
