import Crypto
import FoundationEssentials
import Glibc
import HTTP
import X509

/// ACME Renewal Information (RFC 9773): the window in which the CA would like a certificate
/// renewed, fetched from the directory's `renewalInfo` resource.
public struct RenewalInfo: Sendable, Decodable {
    public struct Window: Sendable, Decodable {
        public var start: Date
        public var end: Date
    }

    public var suggestedWindow: Window
    public var explanationURL: String?
    /// How long the CA asks clients to wait before asking again (§4.3).
    public var retryAfter: Duration?

    enum CodingKeys: String, CodingKey { case suggestedWindow, explanationURL }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let window = try container.nestedContainer(keyedBy: WindowKeys.self, forKey: .suggestedWindow)
        let start = try Self.date(window.decode(String.self, forKey: .start))
        let end = try Self.date(window.decode(String.self, forKey: .end))
        guard let start, let end, start < end else {
            throw DecodingError.dataCorruptedError(forKey: .suggestedWindow, in: container,
                                                   debugDescription: "suggestedWindow needs RFC 3339 start before end")
        }
        suggestedWindow = Window(start: start, end: end)
        explanationURL = try container.decodeIfPresent(String.self, forKey: .explanationURL)
    }

    enum WindowKeys: String, CodingKey { case start, end }

    /// RFC 3339 timestamps, with or without fractional seconds.
    static func date(_ text: String) -> Date? {
        (try? Date(text, strategy: Date.ISO8601FormatStyle()))
            ?? (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
    }

    /// Where in its window a certificate is renewed (§4.2's "uniform random time"), in 0..<1:
    /// the first 64 bits of SHA-256(`certificateID`) over 2^64. Uniform across certificates
    /// (serial numbers are random), and the same in every run for one certificate: a timer that
    /// runs twice a day renews each at its own moment, so renewals spread over the window,
    /// where a fresh draw per run piles them up near its start (each run is another chance).
    public static func windowFraction(certificateID: String) -> Double {
        let prefix = SHA256.hash(data: Array(certificateID.utf8)).prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Double(prefix >> 11) / Double(UInt64(1) << 53)
    }

    /// §4.2: a uniformly random moment in the window (`fraction` in 0..<1 picks it); a window
    /// already past means now.
    public func renewalTime(fraction: Double, now: Date = Date()) -> Date {
        let start = suggestedWindow.start, end = suggestedWindow.end
        if end <= now { return now }
        let chosen = start.addingTimeInterval(end.timeIntervalSince(start) * min(max(fraction, 0), 1))
        return max(chosen, now)
    }

    /// §4.1: base64url(AKI keyIdentifier) "." base64url(DER content octets of the serial).
    public static func certificateID(authorityKeyIdentifier: some Sequence<UInt8>, serialNumber: some Sequence<UInt8>) -> String {
        var serial = Array(serialNumber.drop { $0 == 0 })
        if serial.isEmpty || serial[0] >= 0x80 { serial.insert(0, at: 0) }
        return Base64URL.encode(Array(authorityKeyIdentifier)) + "." + Base64URL.encode(serial)
    }

    /// The certificate ID of a certificate, nil when it has no authority key identifier.
    public static func certificateID(of certificate: Certificate) -> String? {
        guard let aki = try? certificate.extensions.authorityKeyIdentifier?.keyIdentifier else { return nil }
        return certificateID(authorityKeyIdentifier: aki, serialNumber: certificate.serialNumber.bytes)
    }
}

extension ACMEClient {
    /// RFC 9773 §4.2: the CA's suggested renewal window for a certificate, nil when the
    /// directory has no renewalInfo. Unauthenticated GET.
    public func renewalInfo(certificateID: String) async throws -> RenewalInfo? {
        guard let base = try await directory().renewalInfo else { return nil }
        let url = base.hasSuffix("/") ? base + certificateID : base + "/" + certificateID
        let response = try await sender.get(url)
        guard response.status == 200 else {
            throw ACMEError(.badResponse, "The CA at \(host) answered HTTP \(response.status) for renewal information \(url).")
        }
        var info = try sender.decode(RenewalInfo.self, response, what: "renewalInfo")
        info.retryAfter = RetryAfter.parse(response.header("Retry-After"))
        return info
    }
}
