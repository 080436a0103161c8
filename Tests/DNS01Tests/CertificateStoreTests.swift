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

    /// A self-signed certificate for `name` and its key, made by openssl in `directory`.
    static func selfSigned(_ name: String, in directory: String) throws -> (chain: String, key: String) {
        let made = try runProcess("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                                       "-keyout", "\(directory)/\(name).key", "-subj", "/CN=\(name)",
                                                       "-addext", "subjectAltName=DNS:\(name)", "-days", "30"])
        #expect(made.status == 0, "\(made.stderr)")
        return (made.stdout, try String(contentsOfFile: "\(directory)/\(name).key", encoding: .utf8))
    }

    static func candidate(_ name: String, chain: String, key: String, names: [String], source: CertificateStore.Candidate.Source) -> CertificateStore.Candidate {
        CertificateStore.Candidate(name: name, chainPEM: chain, keyPEM: key, names: names, source: source,
                                   origin: .init(phrase: "of \(name) in the test", key: "its key", names: "the configured names", empty: "No chain."))
    }

    /// "Trust, round two", item 6: `install` checks before it writes. A certificate for another
    /// key than the one going with it, or for other names, leaves no file and no live link.
    @Test func installRefusesAMismatchedVersionBeforeWritingAnything() async throws {
        let directory = NSTemporaryDirectory() + "dns01-store-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = CertificateStore(stateDir: directory)
        let a = try Self.selfSigned("a.test", in: directory), b = try Self.selfSigned("b.test", in: directory)
        await #expect { try await store.install(Self.candidate("a", chain: b.chain, key: a.key, names: ["a.test"], source: .new), events: { _ in }) }
            throws: { "\($0)" == "The certificate of a in the test is for another public key than its key." }
        await #expect { try await store.install(Self.candidate("a", chain: b.chain, key: b.key, names: ["a.test"], source: .fleet(number: 1, seen: nil)), events: { _ in }) }
            throws: { "\($0)" == "The certificate of a in the test is for b.test, not for the configured names (a.test)." }
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/archive") && !FileManager.default.fileExists(atPath: "\(directory)/live"))
        let installed = try await store.install(Self.candidate("a", chain: a.chain, key: a.key, names: ["a.test"], source: .new), events: { _ in })
        #expect(installed.changed && FileManager.default.fileExists(atPath: "\(installed.live)/privkey.pem"))
    }

    /// Item 8: two installs of one fleet version at once (a sync and a run of one machine, both
    /// having asked the database before either wrote): one makes it live and runs the deploy
    /// hook; the other finds it live and runs none. Whatever the interleaving.
    @Test func twoInstallsOfOneVersionRunItsHookOnce() async throws {
        let directory = NSTemporaryDirectory() + "dns01-store-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = CertificateStore(stateDir: directory)
        let a = try Self.selfSigned("a.test", in: directory)
        let log = "\(directory)/hooks.log"
        let candidate = Self.candidate("a", chain: a.chain, key: a.key, names: ["a.test"], source: .fleet(number: 7, seen: nil))
        let hook = DeployHook(command: "echo $DNS01_CERT_NAME >> \(log)", config: try ConfigFixture.parse(""))
        async let first = store.install(candidate, deployHook: hook, events: { _ in })
        async let second = store.install(candidate, deployHook: hook, events: { _ in })
        let both = try await [first, second]
        #expect(both.map(\.changed).sorted { !$0 && $1 } == [false, true])
        #expect(try String(contentsOfFile: log, encoding: .utf8) == "a\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/live/a") == "../archive/a/0007")
    }
}
