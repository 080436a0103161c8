import Foundation
import Testing
import TestLab
@testable import DNS01

/// Issue 19 item 5: `dns01 storage import` copies a state directory made by real issuance
/// (Pebble and BIND) into a real PostgreSQL, `export` writes it back, byte for byte, as a
/// directory `type = "directory"` works with; the database holds no readable private key.
@Suite("dns01 storage import and export", .serialized)
struct StorageMigrationTests {
    /// Through the lab: "web" issued twice (versions 0001 and 0002, 0002 live), "own" from the
    /// user's own CSR (no privkey.pem), "broken" failed (a run history and no version).
    @Test func importExportRoundTrip() async throws {
        let lab = try await TestLab.start(.init(zones: ["example.test", "other.test"]))
        defer { lab.stop() }
        let postgres = try await Self.startPostgreSQL()
        defer { postgres.stopAndRemove() }

        let certificates = """

            [[certificate]]
            name = "web"
            domains = ["*.web.example.test", "web.example.test"]

            [[certificate]]
            name = "broken"
            domains = ["www.other.test"]

            """
        let config = try lab.writeConfig {
            $0.replacingOccurrences(of: "zones = [\"example.test\", \"other.test\"]", with: "zones = [\"example.test\"]") + certificates
        }
        let first = try await CLIRunner.run(["run", "-c", config])
        #expect(first.status == 1, "\(first.stderr)")
        let second = try await CLIRunner.run(["run", "-c", config, "--force"])
        #expect(second.status == 1, "\(second.stderr)")
        let key = "\(lab.directory)/own.key", csr = "\(lab.directory)/own.csr"
        let request = try runProcess("/usr/bin/openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                                          "-keyout", key, "-subj", "/CN=own.example.test",
                                                          "-addext", "subjectAltName=DNS:own.example.test", "-out", csr])
        #expect(request.status == 0, "\(request.stderr)")
        let own = try await CLIRunner.run(["issue", "-c", config, "--csr", csr, "--cert-name", "own"])
        #expect(own.status == 0, "\(own.stderr)")

        let state = "\(lab.directory)/state"
        #expect(try Self.tree(state).keys.filter { $0.hasPrefix("archive/web/") && $0.hasSuffix("/privkey.pem") }.count == 2)
        #expect(Self.link("\(state)/live/web") == "../archive/web/0002")
        #expect(!FileManager.default.fileExists(atPath: "\(state)/archive/own/0001/privkey.pem"))
        #expect(FileManager.default.fileExists(atPath: "\(state)/history/broken.json"))

        let fleet = try Self.writeFleetConfig(in: lab.directory, base: lab.configTOML(stateDir: state), url: postgres.url, name: "fleet.toml")

        // Refused without [storage] type = "postgres": exit 2, one sentence.
        let directoryOnly = try await CLIRunner.run(["storage", "import", "-c", config])
        #expect(directoryOnly.status == 2)
        #expect(directoryOnly.stderr.contains("[storage] type is \"directory\""), "\(directoryOnly.stderr)")

        let imported = try await CLIRunner.run(["storage", "import", "-c", fleet])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.hasPrefix("Imported 2 certificates (3 versions), 1 account and 2 run histories from \(state) into PostgreSQL at "), "\(imported.stdout)")
        #expect(imported.stdout.hasSuffix("; nothing was there already.\n"), "\(imported.stdout)")
        #expect(try postgres.psql("SELECT name, live_version FROM dns01_certificates ORDER BY name") == "own|1\nweb|2")
        #expect(try postgres.psql("SELECT name, version, key_sealed IS NULL, array_to_string(names, ',') FROM dns01_versions ORDER BY name, version")
            == "own|1|t|own.example.test\nweb|1|f|*.web.example.test,web.example.test\nweb|2|f|*.web.example.test,web.example.test")

        let again = try await CLIRunner.run(["storage", "import", "-c", fleet, "--from", state, "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        let summary = try JSONDecoder().decode(StorageMigration.ImportSummary.self, from: Data(again.stdout.utf8))
        #expect(summary.versions == 0 && summary.accounts == 0 && summary.histories == 0 && summary.certificates == 0)
        #expect(summary.versionsAlreadyThere == 3 && summary.accountsAlreadyThere == 1 && summary.historiesAlreadyThere == 2)
        #expect(summary.sentence.hasPrefix("Imported nothing from \(state)"), "\(summary.sentence)")
        #expect(try postgres.psql("SELECT count(*) FROM dns01_versions") == "3")

        // The raw tables, bytea shown as text where it is printable: no PEM private key, not
        // even one line of one (but for the tail of an EC key, which is its public key and
        // may show in its certificate).
        let dump = try Self.dump(postgres)
        #expect(dump.contains("BEGIN CERTIFICATE"), "the dump holds the tables")
        #expect(!dump.contains("PRIVATE KEY"))
        let files = try Self.tree(state)
        let certificatesText = files.filter { $0.key.hasSuffix("cert.pem") }.compactMap { $0.value.bytes.map { String(decoding: $0, as: UTF8.self) } }.joined()
        var keyLines = 0
        for (path, entry) in files where path.hasSuffix("privkey.pem") || path.hasSuffix("account.key") {
            let text = String(decoding: entry.bytes ?? Data(), as: UTF8.self)
            for line in text.split(separator: "\n") where !line.hasPrefix("-----") && !certificatesText.contains(line) {
                #expect(!dump.contains(line), "\(path)")
                keyLines += 1
            }
        }
        #expect(keyLines >= 3, "every key has a line of its own")

        // Export: the same files, byte for byte, the same links, the same modes for keys.
        let exported = "\(lab.directory)/exported"
        let export = try await CLIRunner.run(["storage", "export", "-c", fleet, "--to", exported])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stdout.hasPrefix("Exported 2 certificates (3 versions), 1 account and 2 run histories from PostgreSQL at "), "\(export.stdout)")
        #expect(export.stdout.hasSuffix(" to \(exported).\n"), "\(export.stdout)")
        // history/.checked.json is this host's last `dns01 run` check (not due), not shared state:
        // the database does not hold it, so an export has none.
        let original = try Self.tree(state).filter { entry in
            ["accounts/", "archive/", "live/", "history/"].contains { entry.key.hasPrefix($0) } && entry.key != "history/.checked.json"
        }
        let copy = try Self.tree(exported)
        #expect(copy.keys.sorted() == original.keys.sorted())
        for (path, entry) in original {
            #expect(copy[path] == entry, "\(path)")
        }
        #expect(copy["live/web"]?.link == "../archive/web/0002")
        #expect(copy["archive/web/0001/privkey.pem"]?.mode == 0o600)

        // The exported directory works as a state_dir of type = "directory".
        let exportedConfig = try lab.writeConfig("exported.toml") {
            $0.replacingOccurrences(of: "state_dir = \"\(state)\"", with: "state_dir = \"\(exported)\"") + certificates
        }
        let listed = try await CLIRunner.run(["certificates", "-c", exportedConfig, "--json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any])
        let entries = try #require(report["certificates"] as? [[String: Any]])
        #expect(entries.map { $0["name"] as? String } == ["web", "broken", "own"])
        #expect((entries[0]["live"] as? [String: Any])?["names"] as? [String] == ["*.web.example.test", "web.example.test"])
        #expect((entries[1]["lastRun"] as? [String: Any])?["result"] as? String == "failure")

        // Into a directory that holds something: refused, exit 2.
        let notEmpty = try await CLIRunner.run(["storage", "export", "-c", fleet, "--to", exported])
        #expect(notEmpty.status == 2)
        #expect(notEmpty.stderr.contains("is not empty"), "\(notEmpty.stderr)")

        // Another fleet's key: one sentence, exit 1, nothing written.
        let wrongKey = try Self.writeFleetConfig(in: lab.directory, base: lab.configTOML(stateDir: state), url: postgres.url, name: "wrong-key.toml")
        let target = "\(lab.directory)/wrong-key-export"
        let refused = try await CLIRunner.run(["storage", "export", "-c", wrongKey, "--to", target])
        #expect(refused.status == 1)
        #expect(refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("does not open with [storage] key_file"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    /// Without a CA: a version whose key is not its certificate's stops the import before
    /// anything is stored; a certbot-like live/NAME (a plain directory) is one version, live.
    @Test func brokenVersionRefusedAndPlainLiveDirectory() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("storage-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let postgres = try await Self.startPostgreSQL()
        defer { postgres.stopAndRemove() }
        // No CA is asked: an unreachable directory URL does not matter.
        let fleet = try Self.writeFleetConfig(in: directory, base: "[acme]\ndirectory = \"https://127.0.0.1:1/dir\"\nstate_dir = \"\(directory)/state\"\n",
                                              url: postgres.url, name: "fleet.toml")

        let state = "\(directory)/certbot-like"
        let live = "\(state)/live/site"
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        try Self.selfSigned(name: "site.example.test", certificate: "\(live)/cert.pem", key: "\(live)/privkey.pem")
        try FileManager.default.copyItem(atPath: "\(live)/cert.pem", toPath: "\(live)/fullchain.pem")
        try "".write(toFile: "\(live)/chain.pem", atomically: true, encoding: .utf8)
        // A mismatched pair in an archived version of another certificate.
        let bad = "\(state)/archive/mixed/0001"
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
        try Self.selfSigned(name: "mixed.example.test", certificate: "\(bad)/cert.pem", key: "\(directory)/unused.key")
        try Self.selfSigned(name: "other.example.test", certificate: "\(directory)/unused.pem", key: "\(bad)/privkey.pem")

        let refused = try await CLIRunner.run(["storage", "import", "-c", fleet, "--from", state])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("\(bad)/privkey.pem is not the key of \(bad)/cert.pem"), "\(refused.stderr)")
        #expect(try postgres.psql("SELECT count(*) FROM dns01_versions") == "0")

        try FileManager.default.removeItem(atPath: "\(state)/archive")
        let imported = try await CLIRunner.run(["storage", "import", "-c", fleet, "--from", state])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.hasPrefix("Imported 1 certificate (1 version) from \(state)"), "\(imported.stdout)")
        #expect(try postgres.psql("SELECT name, live_version FROM dns01_certificates") == "site|1")
        let exported = "\(directory)/exported"
        let export = try await CLIRunner.run(["storage", "export", "-c", fleet, "--to", exported])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(Self.link("\(exported)/live/site") == "../archive/site/0001")
        for file in ["cert.pem", "privkey.pem", "fullchain.pem", "chain.pem"] {
            #expect(FileManager.default.contents(atPath: "\(exported)/live/site/\(file)") == FileManager.default.contents(atPath: "\(live)/\(file)"), "\(file)")
        }
    }

    /// "Trust, round two", item 6: an import checks each version as `CertificateStore.install`
    /// does. A chain not signed in order stops it before anything is stored; a live version for
    /// other names than the [[certificate]] of its name is imported but not made live.
    @Test func importChecksChainOrderAndTheConfiguredNames() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("storage-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let postgres = try await Self.startPostgreSQL()
        defer { postgres.stopAndRemove() }
        let fleet = try Self.writeFleetConfig(in: directory, base: """
            [acme]
            directory = "https://127.0.0.1:1/dir"
            state_dir = "\(directory)/state"

            [[certificate]]
            name = "site"
            domains = ["site.example.test", "www.site.example.test"]

            """, url: postgres.url, name: "fleet.toml")

        let state = "\(directory)/imported"
        let mixed = "\(state)/archive/mixed/0001"
        try FileManager.default.createDirectory(atPath: mixed, withIntermediateDirectories: true)
        try Self.selfSigned(name: "mixed.example.test", certificate: "\(mixed)/cert.pem", key: "\(mixed)/privkey.pem")
        try Self.selfSigned(name: "other.example.test", certificate: "\(mixed)/chain.pem", key: "\(directory)/unused.key")
        let refused = try await CLIRunner.run(["storage", "import", "-c", fleet, "--from", state])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("Certificate 1 of the chain of mixed version 1 in \(state) (CN=mixed.example.test) is not signed by certificate 2 (CN=other.example.test), which follows it, so nothing was imported"), "\(refused.stderr)")
        #expect(try postgres.psql("SELECT count(*) FROM dns01_versions") == "0")

        try FileManager.default.removeItem(atPath: "\(state)/archive")
        let live = "\(state)/live/site"
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        try Self.selfSigned(name: "site.example.test", certificate: "\(live)/cert.pem", key: "\(live)/privkey.pem")
        let imported = try await CLIRunner.run(["storage", "import", "-c", fleet, "--from", state])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stderr.contains("site: version 1 is imported but not made live: The certificate of site version 1 in \(state) is for site.example.test, not for the configured names (site.example.test, www.site.example.test)."), "\(imported.stderr)")
        #expect(try postgres.psql("SELECT name, coalesce(live_version, 0) FROM dns01_certificates") == "site|0")
        #expect(try postgres.psql("SELECT count(*) FROM dns01_versions") == "1")
    }

    // MARK: - Helpers

    /// `base` with `[storage] type = "postgres"`, written to `directory`/`name`: a url_file
    /// holding `url` and a new random key_file beside it, both 0600.
    static func writeFleetConfig(in directory: String, base: String, url: String, name: String) throws -> String {
        let urlFile = "\(directory)/\(name).url", keyFile = "\(directory)/\(name).key", path = "\(directory)/\(name)"
        try Self.writeSecret(url + "\n", to: urlFile)
        let key = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        try Self.writeSecret(key + "\n", to: keyFile)
        let text = base + "\n[storage]\ntype = \"postgres\"\nurl_file = \"\(urlFile)\"\nkey_file = \"\(keyFile)\"\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func writeSecret(_ text: String, to path: String) throws {
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        chmod(path, 0o600)
    }

    /// A self-signed certificate for `name` and its key (openssl, independent of dns01).
    static func selfSigned(name: String, certificate: String, key: String) throws {
        let result = try runProcess("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                                         "-keyout", key, "-out", certificate, "-days", "30", "-subj", "/CN=\(name)",
                                                         "-addext", "subjectAltName=DNS:\(name)"])
        #expect(result.status == 0, "\(result.stderr)")
    }

    struct Entry: Equatable, CustomStringConvertible {
        var bytes: Data?
        var link: String?
        var mode: mode_t
        var description: String { link.map { "-> \($0)" } ?? "\(bytes?.count ?? -1) bytes, mode \(String(mode, radix: 8))" }
    }

    /// Every file and symlink under `root` by relative path: content, link target, mode
    /// (directories are walked, not listed).
    static func tree(_ root: String) throws -> [String: Entry] {
        var result: [String: Entry] = [:]
        func walk(_ relative: String) throws {
            let path = relative.isEmpty ? root : "\(root)/\(relative)"
            for name in try FileManager.default.contentsOfDirectory(atPath: path) {
                let child = relative.isEmpty ? name : "\(relative)/\(name)"
                var info = stat()
                guard lstat("\(root)/\(child)", &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR: try walk(child)
                case S_IFLNK: result[child] = Entry(link: link("\(root)/\(child)"), mode: 0)
                default: result[child] = Entry(bytes: FileManager.default.contents(atPath: "\(root)/\(child)"), mode: info.st_mode & 0o777)
                }
            }
        }
        try walk("")
        return result
    }

    static func link(_ path: String) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: path)
    }

    /// Every row of every table, bytea as text where it is printable (`bytea_output = escape`),
    /// so that a key stored in the clear would show.
    static func dump(_ postgres: PostgreSQLServer) throws -> String {
        let tables = try postgres.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename").split(separator: "\n")
        return try tables.map { try postgres.psql("SET bytea_output = 'escape'; SELECT t::text FROM \"\($0)\" t") }.joined(separator: "\n")
    }

    /// The PostgreSQL the tests store into, on its own (no lab needed).
    static func startPostgreSQL() async throws -> PostgreSQLServer {
        try await PostgreSQLServer.start()
    }
}
