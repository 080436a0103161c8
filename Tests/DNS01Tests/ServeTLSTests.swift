import Foundation
import Testing
import TestLab

/// Certificates for `dns01 serve` over HTTPS, made with openssl: a CA of the test's own and
/// leaves for 127.0.0.1 and localhost with chosen serial numbers.
struct TestCertificates {
    let directory: String
    var caFile: String { "\(directory)/ca.pem" }

    init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(directory)/ca.key",
                          "-out", caFile, "-subj", "/CN=dns01 serve test CA", "-days", "2"])
    }

    static func openssl(_ arguments: [String], stdin: String? = nil) throws -> String {
        let result = try runProcess("/usr/bin/openssl", arguments, stdin: stdin)
        guard result.status == 0 else { throw LabError("openssl \(arguments.prefix(2).joined(separator: " ")): \(result.stderr)") }
        return result.stdout
    }

    /// A new key (0600) and a leaf with `serial` (hex) signed by the CA; the chain file holds the
    /// leaf, then the CA. Written under `name`.chain.pem / `name`.key.
    func leaf(serial: String, name: String) throws -> (chain: String, key: String) {
        let key = "\(directory)/\(name).key", csr = "\(directory)/\(name).csr", leaf = "\(directory)/\(name).leaf.pem"
        let extensions = "\(directory)/\(name).ext", chain = "\(directory)/\(name).chain.pem"
        _ = try Self.openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key])
        chmod(key, 0o600)
        _ = try Self.openssl(["req", "-new", "-key", key, "-subj", "/CN=localhost", "-out", csr])
        try "basicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1, DNS:localhost\n"
            .write(toFile: extensions, atomically: true, encoding: .utf8)
        _ = try Self.openssl(["x509", "-req", "-in", csr, "-CA", caFile, "-CAkey", "\(directory)/ca.key", "-set_serial", "0x\(serial)",
                              "-days", "1", "-extfile", extensions, "-out", leaf])
        try (String(contentsOfFile: leaf, encoding: .utf8) + String(contentsOfFile: caFile, encoding: .utf8))
            .write(toFile: chain, atomically: true, encoding: .utf8)
        return (chain, key)
    }

    /// Replaces `target` by `source` in one rename, as a renewal's flip of `live/` does.
    static func replace(_ target: String, with source: String) throws {
        let temporary = target + ".new"
        try? FileManager.default.removeItem(atPath: temporary)
        try FileManager.default.copyItem(atPath: source, toPath: temporary)
        chmod(temporary, 0o600)
        guard rename(temporary, target) == 0 else { throw LabError("rename \(temporary): \(String(cString: strerror(errno)))") }
    }
}

/// `[serve] tls_certificate` / `tls_key`: acme-dns's API over HTTPS in the lab, the certificate
/// read again on SIGHUP (a renewal's deploy hook), a bad new pair refused while the old one stays.
@Suite("dns01 serve over HTTPS", .serialized)
struct ServeTLSTests {
    /// The serial number (hex, uppercase) of the certificate a new TLS connection to `port` gets.
    static func servedSerial(port: UInt16) throws -> String {
        let hello = try runProcess("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-servername", "localhost"], stdin: "")
        let certificate = hello.stdout.firstMatch(of: /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/).map { String($0.0) } ?? ""
        guard !certificate.isEmpty else { return "none: \(hello.stderr.suffix(300))" }
        let serial = try TestCertificates.openssl(["x509", "-noout", "-serial"], stdin: certificate)
        return serial.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "serial=", with: "")
    }

    static func poll(_ what: String, within seconds: Double = 30, _ condition: () throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while try !condition() {
            guard Date() < deadline else { throw LabError("\(what) within \(Int(seconds)) s") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func registerUpdateOverHTTPSAndReloadOnHangup() async throws {
        let lab = try await TestLab.start(.init(zones: ["example.test", ServeIntegrationTests.zone]))
        defer { lab.stop() }
        let certificates = try TestCertificates(directory: "\(lab.directory)/tls")
        let first = try certificates.leaf(serial: "1001", name: "first")
        // The paths dns01 serve reads: live/ of a certificate dns01 renews for itself.
        let live = "\(lab.directory)/tls/live"
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        try TestCertificates.replace("\(live)/fullchain.pem", with: first.chain)
        try TestCertificates.replace("\(live)/privkey.pem", with: first.key)
        let serve = try await lab.startServe(executable: CLIRunner.executable, caFile: certificates.caFile) { port in
            lab.configTOML(stateDir: "\(lab.directory)/serve-state") + """

            [serve]
            listen = "127.0.0.1:\(port)"
            zone = "\(ServeIntegrationTests.zone)"
            provider = "lab"
            allow_register = true
            bcrypt_cost = 4
            tls_certificate = "\(live)/fullchain.pem"
            tls_key = "\(live)/privkey.pem"
            """
        }
        #expect(serve.baseURL.hasPrefix("https://"))

        // (a) /register and /update over HTTPS, the certificate verified against the test's CA.
        let registration = try await ServeIntegrationTests.register(serve)
        let value = ServeIntegrationTests.value(1)
        let updated = try await ServeIntegrationTests.update(serve, registration, txt: value)
        #expect(updated.status == 200, "\(updated.body)")
        #expect(try lab.txtValues(registration.fulldomain, at: lab.primary) == [value])
        #expect(try Self.servedSerial(port: serve.port) == "1001")

        // (b) Plain HTTP to the HTTPS port gets no HTTP answer.
        let plain = try runProcess("/usr/bin/curl", ["-s", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}",
                                                     "-X", "POST", "http://127.0.0.1:\(serve.port)/register"])
        #expect(plain.status != 0 && plain.stdout == "000", "plain HTTP: curl \(plain.status) \(plain.stdout)")
        // Nor TLS 1.1 (TLS 1.2 and 1.3 only; the client allowed everything it has).
        let old = try runProcess("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(serve.port)", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"], stdin: "")
        #expect(old.status != 0 && !old.stdout.contains("BEGIN CERTIFICATE"), "TLS 1.1: \(old.stdout.suffix(400))")

        // (c) A renewal replaces the files (a new key too): connections keep the old certificate
        // until SIGHUP, then new ones get the new certificate, without a restart.
        let second = try certificates.leaf(serial: "2002", name: "second")
        try TestCertificates.replace("\(live)/fullchain.pem", with: second.chain)
        try TestCertificates.replace("\(live)/privkey.pem", with: second.key)
        #expect(try Self.servedSerial(port: serve.port) == "1001")
        #expect(kill(serve.pid, SIGHUP) == 0)
        try await Self.poll("the new certificate served after SIGHUP") { try Self.servedSerial(port: serve.port) == "2002" }
        let log = { (try? String(contentsOfFile: serve.log, encoding: .utf8)) ?? "" }
        #expect(log().contains("dns01 serve: SIGHUP: new connections get the certificate with serial 2002 from \(live)/fullchain.pem"), "\(log())")
        let again = try await ServeIntegrationTests.update(serve, registration, txt: ServeIntegrationTests.value(2))
        #expect(again.status == 200, "\(again.body)")

        // (d) A broken renewal: the key file is another certificate's key. SIGHUP keeps the pair
        // in use and says why in one line naming the file; the server goes on.
        let stray = try certificates.leaf(serial: "3003", name: "stray")
        try TestCertificates.replace("\(live)/privkey.pem", with: stray.key)
        #expect(kill(serve.pid, SIGHUP) == 0)
        let kept = "dns01 serve: SIGHUP: kept the certificate with serial 2002: [serve]: the tls_key file \(live)/privkey.pem is not the private key of the certificate in \(live)/fullchain.pem.\n"
        try await Self.poll("the refused reload logged") { log().contains(kept) }
        #expect(try Self.servedSerial(port: serve.port) == "2002")
        #expect(kill(serve.pid, 0) == 0, "dns01 serve stopped on SIGHUP")
        let after = try await ServeIntegrationTests.register(serve)
        #expect(!after.username.isEmpty)
        // Key contents never reach the log.
        for key in [first.key, second.key, stray.key] {
            let body = try String(contentsOfFile: key, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("-----") }
            #expect(body.allSatisfy { !log().contains($0) })
        }
        #expect(!log().contains("PRIVATE KEY"))
    }

    /// SIGHUP (`systemctl reload dns01-serve`) never stops serve, with plain HTTP too: it says
    /// there is nothing to read again and goes on answering.
    @Test func hangupWithoutTLSKeepsServing() async throws {
        let (lab, serve) = try await ServeIntegrationTests.start()
        defer { lab.stop() }
        #expect(kill(serve.pid, SIGHUP) == 0)
        let log = { (try? String(contentsOfFile: serve.log, encoding: .utf8)) ?? "" }
        try await Self.poll("the SIGHUP logged") { log().contains("dns01 serve: SIGHUP: no [serve] tls_certificate to read again; serving on\n") }
        #expect(kill(serve.pid, 0) == 0, "dns01 serve stopped on SIGHUP: \(log())")
        let registration = try await ServeIntegrationTests.register(serve)
        #expect(!registration.username.isEmpty)
    }

    /// Bad TLS files at start: one sentence naming the file, exit status 2, nothing served.
    @Test func badFilesAtStart() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("serve-tls-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: "\(dir)/state", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let certificates = try TestCertificates(directory: "\(dir)/tls")
        let good = try certificates.leaf(serial: "1001", name: "good")
        let other = try certificates.leaf(serial: "2002", name: "other")
        let open = "\(dir)/tls/open.key"
        try FileManager.default.copyItem(atPath: good.key, toPath: open)
        chmod(open, 0o644)
        let garbage = "\(dir)/tls/garbage.pem"
        try "not a certificate\n".write(toFile: garbage, atomically: true, encoding: .utf8)
        chmod(garbage, 0o600)
        let missing = "\(dir)/tls/missing.pem"
        let cases: [(certificate: String, key: String, message: String)] = [
            (missing, good.key, "[serve]: the tls_certificate file \(missing) cannot be read (No such file or directory)."),
            (good.key, good.key, "[serve]: the tls_certificate file \(good.key) is not a PEM certificate chain."),
            (garbage, good.key, "[serve]: the tls_certificate file \(garbage) is not a PEM certificate chain."),
            (good.chain, missing, "[serve]: the tls_key file \(missing) cannot be read (No such file or directory)."),
            (good.chain, garbage, "[serve]: the tls_key file \(garbage) is not a PEM private key."),
            (good.chain, good.chain, "[serve]: the tls_key file \(good.chain) is not a PEM private key."),
            (good.chain, other.key, "[serve]: the tls_key file \(other.key) is not the private key of the certificate in \(good.chain)."),
            (good.chain, open, "[serve]: the tls_key file \(open) is readable by others (mode 644): chmod 600 it."),
        ]
        chmod(good.chain, 0o600)
        for (index, item) in cases.enumerated() {
            let config = "\(dir)/dns01-\(index).toml"
            try """
                [acme]
                state_dir = "\(dir)/state"
                [dns]
                resolvers = ["127.0.0.1"]
                [[provider]]
                name = "hook"
                type = "shell"
                zones = ["auth.test"]
                command = "/bin/true"
                [serve]
                listen = "127.0.0.1:0"
                zone = "auth.test"
                provider = "hook"
                tls_certificate = "\(item.certificate)"
                tls_key = "\(item.key)"
                """.write(toFile: config, atomically: true, encoding: .utf8)
            chmod(config, 0o600)
            let result = try await CLIRunner.run(["serve", "-c", config])
            #expect(result.status == 2, "\(item.message): \(result.stderr)")
            #expect(result.stderr == "dns01: \(item.message)\n")
            #expect(!result.stderr.contains("PRIVATE KEY"))
        }
    }
}
