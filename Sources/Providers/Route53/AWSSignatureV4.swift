import Crypto
import FoundationEssentials
import FoundationShim
import Glibc
import HTTP

/// AWS Signature Version 4 (the `Authorization: AWS4-HMAC-SHA256 …` header): a canonical request
/// of method, path, sorted query, sorted lowercase headers and the payload's SHA-256, hashed into
/// a string to sign under a key derived from the secret by HMAC-SHA256 over date, region,
/// service and "aws4_request". Checked against AWS's published test suite (Tests/ProvidersTests).
public struct AWSSignatureV4: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    public var service: String

    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The headers to add to the request: `X-Amz-Date`, `X-Amz-Security-Token` with temporary
    /// credentials, and `Authorization`. Every header in `headers` is signed, plus `host`.
    public func sign(method: String, url: String, headers: [(String, String)], payload: [UInt8], date: Date) throws -> [(String, String)] {
        guard let components = URLComponents(string: url), let host = components.host else {
            throw AWSSigningError("cannot sign a request to '\(url)': not a URL with a host")
        }
        let (amzDate, day) = Self.timestamps(date)
        var all: [(String, String)] = headers
        let hostHeader = components.port.map { "\(host):\($0)" } ?? host
        if !all.contains(where: { $0.0.lowercased() == "host" }) { all.append(("Host", hostHeader)) }
        all.append(("X-Amz-Date", amzDate))
        if let token = credentials.sessionToken { all.append(("X-Amz-Security-Token", token)) }

        var canonical: [String: [String]] = [:]
        for (name, value) in all {
            canonical[name.lowercased(), default: []].append(Self.trimmed(value))
        }
        let names = canonical.keys.sorted()
        let signedHeaders = names.joined(separator: ";")
        let headerBlock = names.map { "\($0):\(canonical[$0, default: []].joined(separator: ","))\n" }.joined()
        let payloadHash = Self.hex(SHA256.hash(data: payload))
        let canonicalRequest = [
            method.uppercased(),
            Self.canonicalPath(components.percentEncodedPath),
            Self.canonicalQuery(components.percentEncodedQuery),
            headerBlock,
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(Self.hex(SHA256.hash(data: Array(canonicalRequest.utf8))))"
        var key = SymmetricKey(data: Array("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
        var result = [("X-Amz-Date", amzDate)]
        if let token = credentials.sessionToken { result.append(("X-Amz-Security-Token", token)) }
        result.append(("Authorization",
                       "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"))
        return result
    }

    /// "20150830T123600Z" and "20150830", in UTC, without a formatter (no ICU per request).
    static func timestamps(_ date: Date) -> (String, String) {
        var time = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&time, &parts)
        let day = (Int(parts.tm_year) + 1900).zeroPadded(4) + (Int(parts.tm_mon) + 1).zeroPadded(2) + Int(parts.tm_mday).zeroPadded(2)
        return (day + "T" + Int(parts.tm_hour).zeroPadded(2) + Int(parts.tm_min).zeroPadded(2) + Int(parts.tm_sec).zeroPadded(2) + "Z", day)
    }

    /// Leading and trailing spaces removed, runs of spaces folded to one.
    static func trimmed(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            .trimmingWhitespace()
    }

    /// Each path segment decoded and encoded again with only unreserved characters left as they
    /// are (RFC 3986 §2.3), so "/a b" and "/a%20b" sign alike.
    static func canonicalPath(_ path: String) -> String {
        guard !path.isEmpty else { return "/" }
        return path.split(separator: "/", omittingEmptySubsequences: false)
            .map { encode(PercentEncoding.decode(String($0)) ?? String($0)) }
            .joined(separator: "/")
    }

    /// Parameters encoded, sorted by name then value; a name without '=' gets an empty value.
    static func canonicalQuery(_ query: String?) -> String {
        guard let query, !query.isEmpty else { return "" }
        return query.split(separator: "&").map { pair -> (String, String) in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = PercentEncoding.decode(String(parts[0])) ?? String(parts[0])
            let value = parts.count > 1 ? (PercentEncoding.decode(String(parts[1]).replacing("+", with: " ")) ?? String(parts[1])) : ""
            return (encode(name), encode(value))
        }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    static func encode(_ text: String) -> String { PercentEncoding.encode(text) }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { $0.zeroPadded(2, radix: 16) }.joined()
    }
}

/// A request that cannot be signed (a malformed URL).
public struct AWSSigningError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
