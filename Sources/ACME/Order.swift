import FoundationEssentials
import Glibc
import HTTP

/// An order (RFC 8555 §7.1.3). `url` comes from the Location header, not the body.
public struct Order: Sendable, Decodable {
    public struct Status: RawRepresentable, Hashable, Sendable, Decodable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
        public var description: String { rawValue }
        public static let pending = Status(rawValue: "pending")
        public static let ready = Status(rawValue: "ready")
        public static let processing = Status(rawValue: "processing")
        public static let valid = Status(rawValue: "valid")
        public static let invalid = Status(rawValue: "invalid")
    }

    public var url: String = ""
    public var status: Status
    public var identifiers: [Identifier]
    public var authorizations: [String]
    public var finalize: String
    public var certificate: String?
    public var expires: String?
    public var error: Problem?

    enum CodingKeys: String, CodingKey { case status, identifiers, authorizations, finalize, certificate, expires, error }
}

extension ACMEClient {
    /// RFC 8555 §7.4, with the certificate profile (draft-ietf-acme-profiles) and the ARI
    /// `replaces` certificate ID (RFC 9773 §5) when given.
    public func newOrder(identifiers: [Identifier], profile: String? = nil, replaces: String? = nil) async throws -> Order {
        struct Payload: Encodable {
            var identifiers: [Identifier]
            var profile: String?
            var replaces: String?
        }
        let directory = try await directory()
        if let profile {
            guard let offered = directory.meta?.profiles, !offered.isEmpty else {
                throw ACMEError(.unsupported, "The CA at \(host) offers no certificate profiles, so profile '\(profile)' cannot be requested.")
            }
            guard offered[profile] != nil else {
                throw ACMEError(.unsupported, "The CA at \(host) has no profile '\(profile)'; it offers \(offered.keys.sorted().joined(separator: ", ")).")
            }
        }
        let names = identifiers.map(\.value).joined(separator: ", ")
        let payload = Payload(identifiers: identifiers, profile: profile, replaces: replaces)
        let response = try await post(directory.newOrder, payload: Array(try JSONEncoder.plain.encode(payload)), what: "create an order for \(names)")
        var order = try sender.decode(Order.self, response, what: "order")
        guard let location = response.header("Location") else {
            throw ACMEError(.badResponse, "The CA at \(host) created an order but sent no Location for it.")
        }
        order.url = location
        // RFC 8555 §7.1.3: one authorization per identifier (fewer when some are reused).
        guard order.authorizations.count <= identifiers.count else {
            throw ACMEError(.badResponse, "The CA at \(host) sent an order for \(identifiers.count) identifier(s) with \(order.authorizations.count) authorizations.")
        }
        return order
    }

    /// RFC 8555 §7.4: sends the CSR.
    public func finalize(_ order: Order, csrDER: [UInt8]) async throws -> Order {
        struct Payload: Encodable { var csr: String }
        let response = try await post(order.finalize, payload: Array(try JSONEncoder.plain.encode(Payload(csr: Base64URL.encode(csrDER)))),
                                      what: "finalize order \(order.url)")
        var updated = try sender.decode(Order.self, response, what: "order")
        updated.url = order.url
        return updated
    }

    /// Polls an order (POST-as-GET, §7.4) until `valid`, waiting as `PollSchedule` says on the
    /// client's clock; `invalid` throws the order's problem, and so does `deadline`.
    public func waitForOrder(at url: String, deadline: ContinuousClock.Instant) async throws -> Order {
        var schedule = PollSchedule(clock: clock, deadline: deadline)
        while true {
            let response = try await post(url, payload: nil, what: "fetch order \(url)")
            var order = try sender.decode(Order.self, response, what: "order")
            order.url = url
            switch order.status {
            case .valid:
                return order
            case .invalid:
                throw ACMEError(.invalidOrder, "The CA marked order \(url) invalid: \(order.error?.description ?? "no reason given").", problem: order.error)
            default:
                try await schedule.wait(retryAfter: RetryAfter.parse(response.header("Retry-After")),
                                        what: "the CA to issue order \(url) (still \(order.status.rawValue))")
            }
        }
    }
}
