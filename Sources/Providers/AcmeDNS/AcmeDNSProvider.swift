import DNS
import FoundationEssentials
import Glibc
import HTTP

/// `type = "acme-dns"`: TXT values through an acme-dns server (joohoi/acme-dns's API:
/// `POST {api_base}/update` with X-Api-User and X-Api-Key, body `{"subdomain", "txt"}`), for
/// `_acme-challenge` names that are CNAMEs to a registration's `fulldomain`. dns01 follows the
/// CNAME (ChallengeDeployer), so the records it hands over are named by fulldomain; each is
/// written with the registration whose fulldomain it is.
///
/// acme-dns serves the two most recent values of a subdomain, enough for a wildcard and its
/// apex; a call that needs more at one subdomain is refused before anything is written. acme-dns
/// has no delete: `cleanup` does nothing, and the values stay until the next update replaces them.
public final class AcmeDNSProvider: DNSProvider {
    public static let typeName = "acme-dns"
    /// What acme-dns keeps per subdomain.
    public static let valuesPerSubdomain = 2

    public let name: String
    public let zones: [String]
    public let config: Config
    public var secretValues: [String] { config.registrations.values.map(\.password) }
    public var type: String { Self.typeName }
    let transport: any HTTPTransport

    /// With no `zones`, the provider serves the registrations' fulldomains.
    public init(name: String, zones: [String], config: Config, transport: (any HTTPTransport)? = nil) {
        self.name = name
        self.zones = zones.isEmpty ? config.registrations.keys.sorted() : zones
        self.config = config
        let base = transport ?? CurlTransport(peer: "the acme-dns API at \(config.host)", timeout: config.timeout, userAgent: "dns01")
        self.transport = RetryingTransport(base, budget: config.timeout * 4)
    }

    public func present(_ records: [TXTRecord], zone: String) async throws {
        let byName = Dictionary(grouping: records, by: \.name)
        var updates: [(Registration, String, String)] = []
        for name in byName.keys.sorted() {
            let values = Array(Set(byName[name, default: []].map(\.value))).sorted()
            guard let registration = config.registrations[name] else {
                throw ProviderError(code: .present, provider: self.name, message: """
                    \(label): no registration in \(config.registrationFile) has the fulldomain \(name) (zone \(zone)); point \
                    the _acme-challenge CNAME at a registration's fulldomain, or register one (POST \(config.apiBase)/register).
                    """, wroteNothing: true)
            }
            guard values.count <= Self.valuesPerSubdomain else {
                throw ProviderError(code: .present, provider: self.name, message: """
                    \(label): \(values.count) TXT values are due at \(name) (zone \(zone)) at once, and acme-dns at \(config.host) \
                    keeps only the \(Self.valuesPerSubdomain) most recent of a subdomain; issue the names that share it in separate certificates.
                    """, wroteNothing: true)
            }
            updates += values.map { (registration, name, $0) }
        }
        for (index, (registration, name, value)) in updates.enumerated() {
            do {
                try await update(registration, value: value)
            } catch let error as Failure {
                throw ProviderError(code: .present, provider: self.name,
                                    message: "\(label) could not set the TXT value of \(name) (zone \(zone)) at acme-dns \(config.host): \(error.description)",
                                    underlying: error, wroteNothing: index == 0 && error.refused)
            }
        }
    }

    /// acme-dns has no delete: the values stay until the next update pushes them out.
    public func cleanup(_ records: [TXTRecord], zone: String) async throws {}

    struct Failure: Error, Sendable, CustomStringConvertible {
        var description: String
        /// An HTTP answer that refused the update (nothing written).
        var refused: Bool
    }

    private struct ErrorBody: Decodable { var error: String? }
    private struct UpdateBody: Encodable { var subdomain: String; var txt: String }

    private func update(_ registration: Registration, value: String) async throws {
        let redactor = Redactor(secrets: [registration.password])
        let request = HTTPRequest(method: "POST", url: "\(config.apiBase)/update",
                                  headers: [("X-Api-User", registration.username), ("X-Api-Key", registration.password),
                                            ("Content-Type", "application/json"), ("Accept", "application/json")],
                                  body: Array(try JSONEncoder().encode(UpdateBody(subdomain: registration.subdomain, txt: value))))
        let response: HTTPResponse
        do {
            response = try await transport.send(request)
        } catch let error as HTTPError {
            throw Failure(description: redactor(error.message), refused: false)
        }
        guard response.status == 200 else {
            let said = (try? JSONDecoder().decode(ErrorBody.self, from: Data(response.body.prefix(64 << 10))))?.error
                ?? String(decoding: response.body.prefix(4096), as: UTF8.self)
            let text = redactor.clip(said)
            let answer = "HTTP \(response.status)" + (text.isEmpty ? "" : " \"\(text)\"")
            let meaning: String
            switch (response.status, text) {
            case (401, _), (_, "forbidden"):
                meaning = "acme-dns refused the username and password of subdomain \(registration.subdomain) (\(answer)); check the registration in \(config.registrationFile) and its allowfrom networks"
            case (_, "bad_txt"):
                meaning = "acme-dns refused the value (\(answer): it takes 43 base64url characters)"
            default:
                meaning = "acme-dns answered \(answer)"
            }
            throw Failure(description: meaning, refused: (400...499).contains(response.status))
        }
    }
}
