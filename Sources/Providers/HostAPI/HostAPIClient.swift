import DNS
import FoundationEssentials
import Glibc
import HTTP

/// The JSON-over-HTTPS plumbing every native DNS host provider shares (DigitalOcean, Hetzner,
/// deSEC, Gandi, OVH): the host's base URL, its authentication headers, bounded answers, its
/// error text decoded, redacted, stripped and clipped (STYLE.md 20), and one sentence per
/// failure. Retries on 429/5xx (Retry-After) are the `RetryingTransport`'s, under it.
struct HostAPIClient: Sendable {
    /// The host's name in sentences ("DigitalOcean").
    let host: String
    let baseURL: String
    let transport: any HTTPTransport
    /// Takes the credentials out of whatever the host says.
    let redactor: Redactor
    /// The headers that authenticate one request (method, full URL, body).
    let authenticate: @Sendable (_ method: String, _ url: String, _ body: [UInt8]) -> [(String, String)]
    /// The host's own error messages in an answer's body, each with its code if it has one.
    let messages: @Sendable (_ body: [UInt8]) -> [String]
    /// Bodies larger than this are not a DNS host's answers to these calls.
    static let bodyLimit = 4 << 20

    init(host: String, baseURL: String, transport: any HTTPTransport, secrets: [String],
         authenticate: @escaping @Sendable (_ method: String, _ url: String, _ body: [UInt8]) -> [(String, String)],
         messages: @escaping @Sendable (_ body: [UInt8]) -> [String]) {
        self.host = host
        self.baseURL = baseURL
        self.transport = transport
        redactor = Redactor(secrets: secrets)
        self.authenticate = authenticate
        self.messages = messages
    }

    /// The transport every host provider sends through: `given` (tests) or libcurl, with 429
    /// and 5xx answers retried after their Retry-After within 4 × `timeout` in all.
    static func transport(_ given: (any HTTPTransport)?, peer: String, timeout: Duration) -> any HTTPTransport {
        RetryingTransport(given ?? CurlTransport(peer: peer, timeout: timeout, userAgent: "dns01"), budget: timeout * 4)
    }

    /// A failed call: the host's messages and the HTTP status, in one sentence.
    struct Failure: Error, Sendable, CustomStringConvertible {
        var description: String
        var status: Int
    }

    /// Sends one request; any status outside 2xx and `accept` is a `Failure`. `headers` go
    /// with it besides the authentication's (OVH's signature, made per request).
    func send(_ method: String, _ path: String, body: [UInt8]? = nil, accept: Set<Int> = [], headers extra: [(String, String)] = []) async throws -> HTTPResponse {
        let url = baseURL + path
        var headers = authenticate(method, url, body ?? []) + extra + [("Accept", "application/json")]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        let response: HTTPResponse
        do {
            response = try await transport.send(HTTPRequest(method: method, url: url, headers: headers, body: body))
        } catch let error as HTTPError {
            throw Failure(description: redactor(error.message), status: 0)
        }
        guard response.body.count <= Self.bodyLimit else {
            throw Failure(description: "\(host) answered with \(response.body.count) bytes, more than any answer to this call", status: response.status)
        }
        guard (200...299).contains(response.status) || accept.contains(response.status) else {
            let said = messages(response.body)
            let shown = said.prefix(5).map { redactor.clip($0) } + (said.count > 5 ? ["and \(said.count - 5) more"] : [])
            let text = shown.isEmpty ? "HTTP \(response.status) with no \(host) error message" : shown.joined(separator: "; ") + ", HTTP \(response.status)"
            let retry = response.status == 429 ? "; it kept asking to slow down (429) past the retries" : ""
            throw Failure(description: "\(host) answered \(text)\(retry)", status: response.status)
        }
        return response
    }

    /// Sends `body` as JSON and decodes the answer as `T`.
    func json<T: Decodable>(_ method: String, _ path: String, body: (any Encodable)? = nil, as type: T.Type) async throws -> T {
        let response = try await send(method, path, body: try body.map { Array(try JSONEncoder().encode($0)) })
        do {
            return try JSONDecoder().decode(T.self, from: Data(response.body))
        } catch {
            throw Failure(description: "\(host) answered \(method) \(Self.shape(path)) with a body that is not the documented JSON (HTTP \(response.status))",
                          status: response.status)
        }
    }

    /// A path without its query string, for sentences.
    static func shape(_ path: String) -> String {
        path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
    }

    /// A path segment or query value: everything but unreserved characters percent-encoded.
    static func encode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.append(Character(Unicode.Scalar(byte)))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                result += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return result
    }

    /// Decodes `body` as `T`, or nil: for the hosts' error shapes.
    static func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8]) -> T? {
        try? JSONDecoder().decode(T.self, from: Data(body))
    }
}

extension DNSProvider {
    /// "provider 'do' (digitalocean) could not …: DigitalOcean answered …".
    func failure(_ code: ProviderError.Code, _ what: String, _ error: HostAPIClient.Failure, wroteNothing: Bool = false) -> ProviderError {
        ProviderError(code: code, provider: name, message: "\(label) \(what): \(error.description)", underlying: error, wroteNothing: wroteNothing)
    }

    /// At most three of the records' names, for sentences.
    func names<C: Collection>(_ records: C) -> String where C.Element == TXTRecord {
        let all = Array(Set(records.map(\.name))).sorted()
        return all.prefix(3).joined(separator: ", ") + (all.count > 3 ? " and \(all.count - 3) more" : "")
    }

    /// The name relative to `zone` ("_acme-challenge.www"), or "" at the apex.
    func relativeName(_ name: String, zone: String) -> String {
        name == zone ? "" : String(name.dropLast(zone.count + 1))
    }
}
