@testable import Providers
import Testing

/// OVH's "$1$" + SHA1_hex(AS+CK+METHOD+URL+BODY+TSTAMP joined by "+"), against vectors computed
/// independently (Python's hashlib over the documented concatenation).
@Suite struct OVHSignatureTests {
    struct Vector: Sendable, CustomStringConvertible {
        var method: String
        var url: String
        var body: String
        var timestamp: Int
        var signature: String
        var description: String { "\(method) \(url)" }
    }

    static let signer = OVHSignature(applicationSecret: "7kbG7Bk7S9Nt7ZSV", consumerKey: "MtSwSrPpNjqfVSmJhLbPyr2i45lSwPU1")

    @Test(arguments: [
        Vector(method: "GET", url: "https://eu.api.ovh.com/1.0/auth/currentCredential", body: "", timestamp: 1_366_560_945,
               signature: "$1$e247ad3badce0727e42219e12d43ddc09b1675fe"),
        Vector(method: "POST", url: "https://eu.api.ovh.com/1.0/domain/zone/example.com/record",
               body: #"{"fieldType":"TXT","subDomain":"_acme-challenge","target":"abc","ttl":60}"#, timestamp: 1_700_000_000,
               signature: "$1$468889f758f2f0265eeb2523695425182d0570de"),
    ])
    func signature(_ vector: Vector) {
        #expect(Self.signer.sign(method: vector.method, url: vector.url, body: vector.body, timestamp: vector.timestamp) == vector.signature)
    }
}
