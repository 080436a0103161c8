import DNS01
import Foundation
import Synchronization
import Testing
import TestLab
import X509

/// Issue 17 item 5 through the real Pebble and BIND: `placeholder = true` puts a self-signed
/// certificate into live/ while the CA cannot be reached, and the CA's certificate replaces it
/// without a web server reading live/ ever seeing a key that is not its certificate's.
@Suite("placeholder certificates through Pebble and BIND", .serialized)
struct PlaceholderIntegrationTests {
    /// Whether a private key (PEM) is the key of the first certificate of a chain (PEM); parsed
    /// results are kept by text, so a reader loop costs file reads, not parsing.
    final class PairChecker: Sendable {
        private let keys = Mutex<[String: Certificate.PublicKey]>([:])
        private let leaves = Mutex<[String: (key: Certificate.PublicKey, placeholder: Bool)]>([:])

        func key(_ pem: String) throws -> Certificate.PublicKey {
            if let known = keys.withLock({ $0[pem] }) { return known }
            let key = try Certificate.PrivateKey(pemEncoded: pem).publicKey
            keys.withLock { $0[pem] = key }
            return key
        }

        func leaf(_ chain: String) throws -> (key: Certificate.PublicKey, placeholder: Bool) {
            if let known = leaves.withLock({ $0[chain] }) { return known }
            guard let end = chain.range(of: "-----END CERTIFICATE-----") else { throw CheckError() }
            let certificate = try Certificate(pemEncoded: String(chain[..<end.upperBound]))
            let leaf = (certificate.publicKey, CertificateStore.isPlaceholder(certificate))
            leaves.withLock { $0[chain] = leaf }
            return leaf
        }

        func matches(key: String, chain: String) throws -> Bool { try self.key(key) == leaf(chain).key }
        struct CheckError: Error {}
    }

    /// Reads live/NAME/privkey.pem and then live/NAME/fullchain.pem, each opened on its own as
    /// nginx does at start or reload, over and over on a thread of its own until stopped;
    /// counts the pairs, the mismatched ones, and which certificate each pair had.
    final class LiveReader: Sendable {
        struct Counts: Sendable { var pairs = 0, mismatched = 0, unreadable = 0, placeholder = 0, fromCA = 0 }
        let counts = Mutex(Counts())
        private let stopped = Mutex(false)
        private let done = DispatchSemaphore(value: 0)

        init(live: String, checker: PairChecker) {
            Thread.detachNewThread { [self] in
                while !stopped.withLock({ $0 }) {
                    guard let key = try? String(contentsOfFile: "\(live)/privkey.pem", encoding: .utf8),
                          let chain = try? String(contentsOfFile: "\(live)/fullchain.pem", encoding: .utf8),
                          let matches = try? checker.matches(key: key, chain: chain), let leaf = try? checker.leaf(chain)
                    else {
                        counts.withLock { $0.unreadable += 1 }
                        continue
                    }
                    counts.withLock { counts in
                        counts.pairs += 1
                        if !matches { counts.mismatched += 1 }
                        if leaf.placeholder { counts.placeholder += 1 } else { counts.fromCA += 1 }
                    }
                }
                done.signal()
            }
        }

        /// Stops once `more` further pairs were read (so reads go on past the last flip).
        func stop(after more: Int) async -> Counts {
            let target = counts.withLock { $0.pairs } + more
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                Thread.detachNewThread { [self] in
                    while counts.withLock({ $0.pairs + $0.unreadable }) < target { usleep(1000) }
                    stopped.withLock { $0 = true }
                    done.wait()
                    continuation.resume()
                }
            }
            return counts.withLock { $0 }
        }
    }

    static func text(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    @Test func aPlaceholderFirstThenTheCAsCertificateWithTheSameKey() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 2))
        defer { lab.stop() }
        let certificates = """

            [[certificate]]
            name = "www"
            domains = ["www.example.test", "*.www.example.test"]
            placeholder = true

            [[certificate]]
            name = "api"
            domains = ["api.example.test"]
            key_type = "ec384"
            placeholder = true

            """
        let good = try lab.writeConfig("good.toml") { $0 + certificates }
        // A CA that fails every request: the directory URL answers 404.
        let failing = try lab.writeConfig("failing.toml") {
            $0.replacingOccurrences(of: lab.pebbleDirectory, with: lab.pebbleDirectory + "-missing") + certificates
        }
        let state = "\(lab.directory)/state"
        let checker = PairChecker()

        // 1. `dns01 run` while the CA fails: both placeholders are in live/ all the same.
        let run = try await CLIRunner.run(["run", "-c", failing])
        #expect(run.status == 1)
        #expect(run.stderr.contains("www: no certificate yet; wrote a self-signed placeholder for www.example.test, *.www.example.test to \(state)/live/www"),
                "\(run.stderr)")
        for (name, names, algorithm) in [("www", ["*.www.example.test", "www.example.test"], "prime256v1"), ("api", ["api.example.test"], "secp384r1")] {
            let live = "\(state)/live/\(name)"
            // Exactly the names, self-signed by dns01, with the key beside it (openssl reads them).
            #expect(try subjectAlternativeNames(ofCertificateAt: "\(live)/cert.pem") == names)
            let shown = try runProcess("/usr/bin/openssl", ["x509", "-noout", "-subject", "-issuer", "-text", "-in", "\(live)/cert.pem"]).stdout
            #expect(shown.contains("subject=O = dns01 placeholder") && shown.contains("issuer=O = dns01 placeholder"), "\(shown)")
            #expect(shown.contains(algorithm), "\(shown)")
            let (certificateKey, privateKey) = try PlaceholderTests.publicKeys(certificate: "\(live)/cert.pem", key: "\(live)/privkey.pem")
            #expect(certificateKey == privateKey)
        }
        // `dns01 issue` for a configured certificate writes one too (and reuses one that is there).
        try FileManager.default.removeItem(atPath: "\(state)/live/api")
        try FileManager.default.removeItem(atPath: "\(state)/archive/api")
        let issue = try await CLIRunner.run(["issue", "-c", failing, "--cert-name", "api", "-d", "api.example.test", "--key-type", "ec384"])
        #expect(issue.status == 1)
        #expect(issue.stderr.contains("api: no certificate yet; wrote a self-signed placeholder"), "\(issue.stderr)")
        #expect(try checker.leaf(Self.text("\(state)/live/api/fullchain.pem")).placeholder)

        // 2. The CA answers: both are replaced, each by a certificate for the placeholder's key,
        //    while a reader keeps opening www's key and chain one after the other.
        let live = "\(state)/live/www"
        let placeholderKey = try Self.text("\(live)/privkey.pem")
        let apiKey = try Self.text("\(state)/live/api/privkey.pem")
        let reader = LiveReader(live: live, checker: checker)
        // --force: the failing run's CA outage went into the history with a back-off.
        let renewed = try await CLIRunner.run(["run", "-c", good, "--json", "--force"])
        let counts = await reader.stop(after: 200)
        #expect(renewed.status == 0, "\(renewed.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(renewed.stdout.utf8)) as? [String: Any])
        let items = try #require(summary["certificates"] as? [[String: Any]])
        #expect(items.map { $0["status"] as? String } == ["issued", "issued"], "\(renewed.stdout)")
        #expect(items.map { $0["reason"] as? String } == ["placeholder", "placeholder"], "\(renewed.stdout)")
        #expect(items.allSatisfy { $0["placeholder"] == nil }, "\(renewed.stdout)")

        #expect(counts.mismatched == 0, "\(counts)")
        #expect(counts.unreadable == 0, "\(counts)")
        // The reader saw both versions: the placeholder through the order (lag 2 s at the
        // secondary), the CA's certificate after the flip.
        #expect(counts.placeholder > 0 && counts.fromCA >= 200, "\(counts)")
        print("live reader: \(counts.pairs) pairs (\(counts.placeholder) placeholder, \(counts.fromCA) from the CA), \(counts.mismatched) mismatched")

        #expect(!(try checker.leaf(Self.text("\(live)/fullchain.pem")).placeholder))
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(live)/cert.pem") == ["*.www.example.test", "www.example.test"])
        #expect(try Self.text("\(live)/privkey.pem") == placeholderKey)
        #expect(try Self.text("\(state)/live/api/privkey.pem") == apiKey)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: live) == "../archive/www/0002")
        #expect(try checker.leaf(Self.text("\(state)/archive/www/0001/fullchain.pem")).placeholder)

        // 3. Why the key is reused, shown with the slowest reader there is: one that opened
        //    privkey.pem before the flip and fullchain.pem after it. With the placeholder's key
        //    kept, that pair matches; a renewal that makes a new key (--force now, as any
        //    renewal of a real certificate does) gives that reader a mismatched pair, which the
        //    same check reports. The live reader above would count such a pair had the flip
        //    fallen between its two opens.
        #expect(try checker.matches(key: placeholderKey, chain: Self.text("\(live)/fullchain.pem")))
        let keyBefore = try Self.text("\(live)/privkey.pem")
        let forced = try await CLIRunner.run(["run", "-c", good, "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try Self.text("\(live)/privkey.pem") != keyBefore)
        #expect(try !checker.matches(key: keyBefore, chain: Self.text("\(live)/fullchain.pem")))
    }
}
