import FoundationEssentials
import FoundationShim
import Glibc

/// A DNS server to send queries or updates to: an IP literal and a port.
public struct DNSServer: Hashable, Sendable, CustomStringConvertible, Codable {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16 = 53) {
        self.host = host
        self.port = port
    }

    /// Parses "127.0.0.1", "127.0.0.1:5353", "[::1]:5353" or "::1".
    public init(parsing text: String, defaultPort: UInt16 = 53) throws {
        let trimmed = text.trimmingWhitespace()
        var host = trimmed
        var port = defaultPort
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]") else {
                throw DNSError(.invalidServer, "DNS server '\(text)' has an unclosed '['.")
            }
            host = String(trimmed[trimmed.index(after: trimmed.startIndex)..<close])
            let rest = trimmed[trimmed.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = UInt16(rest.dropFirst()), value > 0 else {
                    throw DNSError(.invalidServer, "DNS server '\(text)' has an invalid port.")
                }
                port = value
            }
        } else if trimmed.filter({ $0 == ":" }).count == 1 {
            let parts = trimmed.split(separator: ":", omittingEmptySubsequences: false)
            host = String(parts[0])
            guard let value = UInt16(parts[1]), value > 0 else {
                throw DNSError(.invalidServer, "DNS server '\(text)' has an invalid port.")
            }
            port = value
        }
        guard DNSServer.isIPv4(host) || DNSServer.isIPv6(host) else {
            throw DNSError(.invalidServer, "DNS server '\(text)' is not an IP address (with an optional :port).")
        }
        self.init(host: host, port: port)
    }

    public var isIPv6: Bool { host.contains(":") }

    public var description: String {
        isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The `nameserver` lines of resolv.conf, whose `text` the caller read (through the bounded
    /// reader: the DNS module reads no files).
    public static func systemResolvers(resolvConf text: String, path: String = "/etc/resolv.conf") throws -> [DNSServer] {
        var servers: [DNSServer] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver" else { continue }
            var host = String(fields[1])
            if let zone = host.firstIndex(of: "%") { host = String(host[..<zone]) }  // fe80::1%eth0
            if let server = try? DNSServer(parsing: host) { servers.append(server) }
        }
        guard !servers.isEmpty else {
            throw DNSError(.invalidServer, "\(path) lists no nameserver; set [dns] resolvers in the config.")
        }
        return servers
    }

    static func isIPv4(_ text: String) -> Bool {
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1
    }

    static func isIPv6(_ text: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }
}
