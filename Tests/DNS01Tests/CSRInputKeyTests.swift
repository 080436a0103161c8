@testable import DNS01
import Foundation
import TestLab
import Testing

/// A CSR's public key is read by its own algorithm identifier: a CSR over a curve the CA and
/// swift-certificates do not know is refused, not misread.
@Suite struct CSRInputKeyTests {
    static func openssl(_ arguments: [String], in directory: String) throws -> [UInt8] {
        [UInt8](try CapturedRun.run("/usr/bin/openssl", arguments, directory: directory).stdoutData)
    }

    /// (curve, accepted)
    @Test(arguments: [("prime256v1", true), ("secp384r1", true), ("secp256k1", false), ("brainpoolP256r1", false)])
    func csrCurves(_ curve: String, _ accepted: Bool) throws {
        let directory = NSTemporaryDirectory() + "dns01-csr-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try Self.openssl(["ecparam", "-name", curve, "-genkey", "-noout", "-out", "key.pem"], in: directory)
        let csr = try Self.openssl(["req", "-new", "-key", "key.pem", "-subj", "/CN=example.test",
                                    "-addext", "subjectAltName=DNS:example.test"], in: directory)
        #expect(String(decoding: csr, as: UTF8.self).contains("BEGIN CERTIFICATE REQUEST"))
        if accepted {
            #expect(try CSRInput(bytes: csr, source: "req.pem").names == ["example.test"])
        } else {
            #expect { try CSRInput(bytes: csr, source: "req.pem") } throws: { "\($0)".contains("req.pem") }
        }
    }
}
