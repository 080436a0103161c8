@testable import DNS01
import Foundation
import Testing

/// The files a stored certificate version holds, and the live link.
@Suite("certificate store")
struct CertificateStoreTests {
    @Test func storedVersionsAndTheLiveLink() throws {
        let directory = NSTemporaryDirectory() + "dns01-store-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = CertificateStore(stateDir: directory)
        let chain = "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"
        let live = try store.save(name: "example.com", privateKeyPEM: "KEY 1\n", chainPEM: chain)
        _ = try store.save(name: "example.com", privateKeyPEM: "KEY 2\n", chainPEM: chain)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: live) == "../archive/example.com/0002")
        #expect(try String(contentsOfFile: "\(live)/privkey.pem", encoding: .utf8) == "KEY 2\n")
        #expect(try String(contentsOfFile: "\(directory)/archive/example.com/0001/privkey.pem", encoding: .utf8) == "KEY 1\n")
        #expect(try String(contentsOfFile: "\(live)/cert.pem", encoding: .utf8) == "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n")
        #expect(try String(contentsOfFile: "\(live)/chain.pem", encoding: .utf8) == "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n")
        #expect(try String(contentsOfFile: "\(live)/fullchain.pem", encoding: .utf8) == chain)
        let mode = try FileManager.default.attributesOfItem(atPath: "\(live)/privkey.pem")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // Without a key (the user's CSR): no privkey.pem in that version.
        _ = try store.save(name: "example.com", privateKeyPEM: nil, chainPEM: chain)
        #expect(!FileManager.default.fileExists(atPath: "\(live)/privkey.pem"))
        // A chain without a certificate stores nothing and leaves the live version as it was.
        #expect(throws: (any Error).self) { try store.save(name: "example.com", privateKeyPEM: "KEY 4\n", chainPEM: "garbage") }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: live) == "../archive/example.com/0003")
    }
}
