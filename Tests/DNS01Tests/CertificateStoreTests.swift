@testable import DNS01
import Foundation
import Synchronization
import Testing

/// The files a stored certificate version holds, and the live link.
@Suite("certificate store")
struct CertificateStoreTests {
    @Test func storedVersionsAndTheLiveLink() async throws {
        let directory = NSTemporaryDirectory() + "dns01-store-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = CertificateStore(stateDir: directory)
        let chain = "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"
        let live = try await store.save(name: "example.com", privateKeyPEM: "KEY 1\n", chainPEM: chain)
        _ = try await store.save(name: "example.com", privateKeyPEM: "KEY 2\n", chainPEM: chain)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: live) == "../archive/example.com/0002")
        #expect(try String(contentsOfFile: "\(live)/privkey.pem", encoding: .utf8) == "KEY 2\n")
        #expect(try String(contentsOfFile: "\(directory)/archive/example.com/0001/privkey.pem", encoding: .utf8) == "KEY 1\n")
        #expect(try String(contentsOfFile: "\(live)/cert.pem", encoding: .utf8) == "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n")
        #expect(try String(contentsOfFile: "\(live)/chain.pem", encoding: .utf8) == "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n")
        #expect(try String(contentsOfFile: "\(live)/fullchain.pem", encoding: .utf8) == chain)
        let mode = try FileManager.default.attributesOfItem(atPath: "\(live)/privkey.pem")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // Without a key (the user's CSR): no privkey.pem in that version.
        _ = try await store.save(name: "example.com", privateKeyPEM: nil, chainPEM: chain)
        #expect(!FileManager.default.fileExists(atPath: "\(live)/privkey.pem"))
        // A chain without a certificate stores nothing and leaves the live version as it was.
        await #expect(throws: (any Error).self) { try await store.save(name: "example.com", privateKeyPEM: "KEY 4\n", chainPEM: "garbage") }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: live) == "../archive/example.com/0003")
    }

    /// Two writers of one certificate (an `issue` and a `run`, say) each claim a version of
    /// their own: none takes over, or on error deletes, another's files.
    @Test func concurrentSavesEachKeepAVersionOfTheirOwn() throws {
        let directory = NSTemporaryDirectory() + "dns01-store-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = CertificateStore(stateDir: directory)
        let chain = "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n"
        let writers = 24
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: writers) { index in
            do {
                _ = try store.saveNow(name: "example.com", privateKeyPEM: "KEY \(index)\n", chainPEM: chain)
            } catch {
                failures.withLock { $0.append("\(index): \(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        let archive = "\(directory)/archive/example.com"
        let versions = try FileManager.default.contentsOfDirectory(atPath: archive).sorted()
        #expect(versions == (1...writers).map { String(format: "%04d", $0) })
        var keys: Set<String> = []
        for version in versions {
            let files = try FileManager.default.contentsOfDirectory(atPath: "\(archive)/\(version)").sorted()
            #expect(files == ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"], "\(version): \(files)")
            keys.insert(try String(contentsOfFile: "\(archive)/\(version)/privkey.pem", encoding: .utf8))
        }
        #expect(keys == Set((0..<writers).map { "KEY \($0)\n" }))
    }
}
