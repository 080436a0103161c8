#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An address prefix ("192.0.2.0/24", "2001:db8::/32"; a bare address is a /32 or /128), for
/// `allowfrom` and `trusted_proxies`.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The network's bytes (4 or 16).
    public let bytes: [UInt8]
    public let prefix: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = CIDR.parseAddress(String(parts[0])) else { return nil }
        let bits = address.count * 8
        var prefix = bits
        if parts.count == 2 {
            guard let given = Int(parts[1]), (0...bits).contains(given), parts[1].allSatisfy(\.isASCII) else { return nil }
            prefix = given
        }
        self.prefix = prefix
        bytes = CIDR.masked(address, prefix: prefix)
    }

    /// Whether `address` (4 or 16 bytes; an IPv4-mapped IPv6 address counts as its IPv4 one) is in it.
    public func contains(_ address: [UInt8]) -> Bool {
        var address = address
        if address.count == 16 && bytes.count == 4 && address.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] {
            address = Array(address.suffix(4))
        }
        guard address.count == bytes.count else { return false }
        return CIDR.masked(address, prefix: prefix) == bytes
    }

    public func contains(_ text: String) -> Bool {
        guard let address = CIDR.parseAddress(text) else { return false }
        return contains(address)
    }

    public var description: String { "\(CIDR.text(bytes))/\(prefix)" }

    /// An address's 4 or 16 bytes as text ("192.0.2.1", "2001:db8::1").
    public static func text(_ bytes: [UInt8]) -> String {
        guard bytes.count == 4 || bytes.count == 16 else { return "?" }
        var buffer = [CChar](repeating: 0, count: 64)
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        return bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
                ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
        }
    }

    /// The 4 or 16 bytes of an IPv4 or IPv6 address in text; nil if it is neither.
    public static func parseAddress(_ text: String) -> [UInt8]? {
        guard !text.isEmpty, text.utf8.count < 64, text.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else { return nil }
        var v4 = [UInt8](repeating: 0, count: 4)
        if text.withCString({ inet_pton(AF_INET, $0, &v4) }) == 1 { return v4 }
        var v6 = [UInt8](repeating: 0, count: 16)
        if text.withCString({ inet_pton(AF_INET6, $0, &v6) }) == 1 { return v6 }
        return nil
    }

    static func masked(_ address: [UInt8], prefix: Int) -> [UInt8] {
        address.enumerated().map { index, byte in
            let bitsHere = max(0, min(8, prefix - index * 8))
            return bitsHere == 8 ? byte : byte & UInt8(truncatingIfNeeded: 0xff << (8 - bitsHere))
        }
    }
}
