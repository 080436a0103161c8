import Foundation
import HTTP

/// One request a `ScriptedTransport` received, with its flattened JWS body (RFC 7515 §7.2.2)
/// decoded when it has one, for assertions on what a client signed.
public struct RecordedRequest: Sendable, CustomStringConvertible {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// How many earlier requests had the same method and URL (0 for the first).
    public var call: Int
    /// The decoded JWS, when the body is one.
    public var jws: RecordedJWS?
    /// The time the sender gave this exchange (`HTTPRequest.timeout`).
    public var timeout: Duration?

    init(_ request: HTTPRequest, call: Int) {
        method = request.method.uppercased()
        url = request.url
        headers = request.headers
        body = request.body ?? []
        self.call = call
        jws = RecordedJWS(body)
        timeout = request.timeout
    }

    /// The first value of a request header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// "POST https://ca.test/acme/order/1"
    public var description: String { method + " " + url }
}

/// A flattened JWS as a client sent it: the protected header's members that ACME uses
/// (RFC 8555 §6.2), the payload, and the raw parts.
public struct RecordedJWS: Sendable {
    /// The protected header as sent (JSON text).
    public var protectedHeader: String
    public var alg: String?
    public var kid: String?
    public var nonce: String?
    public var url: String?
    /// The `jwk` member's string members (newAccount, key change inner JWS).
    public var jwk: [String: String]?
    /// The decoded payload; empty for POST-as-GET (RFC 8555 §6.3).
    public var payload: [UInt8]
    public var signature: [UInt8]

    /// The flattened JWS in `body`, nil when the body is not one.
    public init?(_ body: [UInt8]) {
        struct Flattened: Decodable {
            var protected: String
            var payload: String
            var signature: String
        }
        struct Header: Decodable {
            var alg: String?
            var kid: String?
            var nonce: String?
            var url: String?
            var jwk: [String: String]?
        }
        guard !body.isEmpty, let flattened = try? JSONDecoder().decode(Flattened.self, from: Data(body)),
              let headerBytes = Self.base64URL(flattened.protected), let payload = Self.base64URL(flattened.payload),
              let signature = Self.base64URL(flattened.signature),
              let header = try? JSONDecoder().decode(Header.self, from: Data(headerBytes)) else { return nil }
        protectedHeader = String(decoding: headerBytes, as: UTF8.self)
        alg = header.alg
        kid = header.kid
        nonce = header.nonce
        url = header.url
        jwk = header.jwk
        self.payload = payload
        self.signature = signature
    }

    /// POST-as-GET: the empty payload (RFC 8555 §6.3).
    public var isPostAsGet: Bool { payload.isEmpty }

    public var payloadText: String { String(decoding: payload, as: UTF8.self) }

    /// The payload decoded as `type`.
    public func payload<T: Decodable>(as type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(payload))
    }

    /// The payload as a JSON object, nil when it is not one.
    public func payloadObject() -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any]
    }

    /// base64url without padding (RFC 7515 §2), or nil.
    public static func base64URL(_ text: String) -> [UInt8]? {
        guard !text.contains("=") else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64).map(Array.init)
    }
}
