@testable import ACME
import Crypto
import Foundation
import TestLab
import Testing

/// An account key is read as the type its ASN.1 names, never as a P-256 key that happens to
/// share a 32-byte scalar with it.
@Suite struct AccountKeyCurveTests {
    static func openssl(_ arguments: [String]) throws -> String {
        try CapturedRun.run("/usr/bin/openssl", arguments).stdout
    }

    /// (openssl arguments, what the refusal must name).
    @Test(arguments: [
        (["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1"], "EC key on secp256k1"),   // PKCS#8
        (["ecparam", "-name", "secp256k1", "-genkey", "-noout"], "EC key on secp256k1"),                      // SEC1
        (["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"], "EC key on P-521"),
        (["ecparam", "-name", "secp521r1", "-genkey", "-noout"], "EC key on P-521"),
        (["ecparam", "-name", "brainpoolP256r1", "-genkey", "-noout"], "EC key on brainpoolP256r1"),
        (["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-param_enc", "explicit"], "names no curve"),
        (["genpkey", "-algorithm", "ED25519"], "Ed25519 key"),
        (["genpkey", "-algorithm", "X25519"], "X25519 key"),
        (["genpkey", "-algorithm", "ED448"], "Ed448 key"),
        (["genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"], "RSA-PSS key"),
    ])
    func refusesKeysOfOtherTypes(_ arguments: [String], _ named: String) throws {
        let pem = try Self.openssl(arguments)
        #expect(pem.contains("PRIVATE KEY"))
        #expect { try AccountKey(pemRepresentation: pem) } throws: { error in
            let text = "\(error)"
            return text.contains(named) && text.contains("dns01") && !text.contains("MI")
        }
    }

    @Test func refusesDSA() throws {
        let parameters = FileManager.default.temporaryDirectory.appendingPathComponent("dsa-\(UUID().uuidString).pem").path
        defer { try? FileManager.default.removeItem(atPath: parameters) }
        _ = try Self.openssl(["genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:1024", "-out", parameters])
        let pem = try Self.openssl(["genpkey", "-paramfile", parameters])
        #expect { try AccountKey(pemRepresentation: pem) } throws: { "\($0)".contains("a DSA key") }
    }

    /// `openssl ecparam -genkey` without -noout writes an EC PARAMETERS block first.
    @Test(arguments: [
        (["ecparam", "-name", "prime256v1", "-genkey"], "ES256"),
        (["ecparam", "-name", "secp384r1", "-genkey"], "ES384"),
        (["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"], "ES384"),
    ])
    func acceptsTheCurvesItSignsWith(_ arguments: [String], _ algorithm: String) throws {
        #expect(try AccountKey(pemRepresentation: Self.openssl(arguments)).algorithm.rawValue == algorithm)
    }

    /// A P-384 key is not taken as a P-256 key, whatever order the parsers are tried in.
    @Test func aP384KeyKeepsItsCurve() throws {
        let key = P384.Signing.PrivateKey()
        let read = try AccountKey(pemRepresentation: key.pemRepresentation)
        #expect(read.algorithm == .es384)
        #expect(read.jwk.thumbprint() == (try AccountKey(pemRepresentation: read.pemRepresentation)).jwk.thumbprint())
    }

    @Test(arguments: [
        ("", "no PEM private key"),
        ("-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----\n", "not a PEM file"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not well-formed DER"),
        ("-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n", "not well-formed DER"),
        ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n", "encrypted"),
        ("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n", "'CERTIFICATE' PEM block"),
    ])
    func malformed(_ pem: String, _ reason: String) {
        #expect { try AccountKey(pemRepresentation: pem) } throws: { "\($0)".contains(reason) }
    }

    @Test func twoKeysInOneFileAreRefused() throws {
        let pem = P256.Signing.PrivateKey().pemRepresentation + "\n" + P256.Signing.PrivateKey().pemRepresentation
        #expect { try AccountKey(pemRepresentation: pem) } throws: { "\($0)".contains("2 PEM blocks") }
    }
}
