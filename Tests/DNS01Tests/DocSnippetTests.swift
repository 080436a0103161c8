@testable import DNS01
import Foundation
import Testing

/// Issue 15 §9, STYLE.md 13: every config snippet in README.md and providers/README.md is read by
/// the program that would read it — TOML by dns01's own parser, BIND configuration by
/// `named-checkconf` — so the docs cannot rot. Paths in a snippet are moved into a sandbox where
/// the files they name are created (a real TSIG key from tsig-keygen, the repo's own provider
/// scripts, a zone file that $INCLUDEs its include_file); commented-out options are checked too,
/// by a second pass with them switched on.
@Suite("Documentation snippets") struct DocSnippetTests {
    static let documents = ["README.md", "providers/README.md"]

    struct Snippet: CustomStringConvertible, Sendable {
        var document: String
        var line: Int
        var language: String
        var text: String
        var description: String { "\(document):\(line) (\(language))" }
    }

    static var repository: String {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url.deleteLastPathComponent()
        }
        return url.path
    }

    /// Every fenced block, with its info string.
    static func snippets() throws -> [Snippet] {
        var result: [Snippet] = []
        for document in documents {
            let lines = try String(contentsOfFile: "\(repository)/\(document)", encoding: .utf8).components(separatedBy: "\n")
            var open: (line: Int, language: String, body: [String])?
            for (index, line) in lines.enumerated() where line.hasPrefix("```") || open != nil {
                if line.hasPrefix("```") {
                    if let block = open {
                        result.append(Snippet(document: document, line: block.line, language: block.language,
                                              text: block.body.joined(separator: "\n") + "\n"))
                        open = nil
                    } else {
                        open = (index + 1, String(line.dropFirst(3)).trimmingCharacters(in: .whitespaces), [])
                    }
                } else {
                    open?.body.append(line)
                }
            }
        }
        return result
    }

    @Test func configurationLooksAreTaggedSoTheyAreChecked() throws {
        let all = try Self.snippets()
        #expect(all.filter { $0.language == "toml" }.count >= 7)
        #expect(all.filter { $0.language == "named" }.count >= 1)
        #expect(all.filter { $0.language == "systemd" }.count >= 1)
        for snippet in all where !["toml", "named", "systemd"].contains(snippet.language) {
            let text = snippet.text
            #expect(text.firstMatch(of: /(?m)^\s*\[\[?(acme|dns|provider|certificate|zone|storage|metrics|notify)\]\]?\s*$/) == nil,
                    "\(snippet) looks like dns01 TOML: tag it ```toml")
            #expect(!(text.contains("zone \"") || text.contains("update-policy") || text.contains("allow-update")),
                    "\(snippet) looks like BIND configuration: tag it ```named")
            #expect(text.firstMatch(of: /(?m)^\[(Unit|Service|Timer|Install)\]$/) == nil,
                    "\(snippet) looks like a systemd unit or drop-in: tag it ```systemd")
        }
    }

    @Test(arguments: try DocSnippetTests.snippets().filter { $0.language == "toml" })
    func tomlSnippetParses(_ snippet: Snippet) throws {
        for uncomment in [false, true] {
            let sandbox = try Sandbox()
            defer { sandbox.remove() }
            var text = snippet.text
            if uncomment {
                text = text.components(separatedBy: "\n").map { line in
                    guard let match = line.firstMatch(of: /^(\s*)#\s*([a-z_]+\s*=.*)$/) else { return line }
                    return String(match.1 + match.2)
                }.joined(separator: "\n")
            }
            if !text.contains("[acme]") {
                text = "[acme]\ndirectory = \"https://acme.example/directory\"\nstate_dir = \"/var/lib/dns01\"\n\n" + text
            }
            let prepared = try sandbox.materialize(text)
            do {
                _ = try Configuration.parse(prepared, path: "\(snippet)")
            } catch {
                Issue.record("\(snippet)\(uncomment ? " with its commented options on" : ""): \(describe(error))\n\(prepared)")
            }
        }
    }

    /// A drop-in for the packaged unit, its commented lines switched on too, added to
    /// packaging/dns01.service and checked by `systemd-analyze verify` (unknown keys and bad
    /// values are what it reports).
    @Test(arguments: try DocSnippetTests.snippets().filter { $0.language == "systemd" })
    func systemdSnippetVerifies(_ snippet: Snippet) async throws {
        let analyze = try #require(ServiceUnitTests.systemdAnalyze, "systemd-analyze is missing (package systemd)")
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let dropIn = snippet.text.components(separatedBy: "\n").map { line in
            guard let match = line.firstMatch(of: /^#\s*([A-Z][A-Za-z]+=.*)$/) else { return line }
            return String(match.1)
        }.joined(separator: "\n")
        let unit = try ServiceUnitTests.unitText("dns01.service")
            .replacingOccurrences(of: "/usr/bin/dns01", with: CLIRunner.executable) + "\n" + dropIn + "\n"
        let file = sandbox.root + "/dns01.service"
        try unit.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await runProcessOffPool(analyze, ["verify", "--man=no", file])
        #expect(result.status == 0 && result.stderr.isEmpty, "\(snippet): systemd-analyze verify says: \(result.stderr)")
    }

    @Test(arguments: try DocSnippetTests.snippets().filter { $0.language == "named" })
    func bindSnippetPassesNamedCheckconf(_ snippet: Snippet) throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        var text = snippet.text
        for match in snippet.text.matches(of: /include\s+"([^"]+)"/) {
            let path = String(match.1)
            let moved = sandbox.root + path
            try sandbox.writeKey(to: moved)
            text = text.replacingOccurrences(of: "\"\(path)\"", with: "\"\(moved)\"")
        }
        let file = sandbox.root + "/named.conf"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try runProcess("/usr/bin/named-checkconf", [file])
        #expect(result.status == 0, "\(snippet): named-checkconf says: \(result.stdout)\(result.stderr)")
    }

    /// A temp directory standing in for the filesystem root the snippets name paths in.
    struct Sandbox {
        let root: String

        init() throws {
            root = FileManager.default.temporaryDirectory.path + "/dns01-docs-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        }

        func remove() { try? FileManager.default.removeItem(atPath: root) }

        /// The TOML with every absolute path moved into the sandbox, and the files it names made.
        func materialize(_ text: String) throws -> String {
            var result = text
            var includeFile: String?
            var zoneFiles: [String] = []
            for match in text.matches(of: /(?m)^\s*([a-z_]+)\s*=\s*"(\/[^"]*)"/) {
                let key = String(match.1), path = String(match.2), moved = root + path
                try FileManager.default.createDirectory(atPath: (moved as NSString).deletingLastPathComponent,
                                                        withIntermediateDirectories: true)
                switch key {
                case "tsig_key_file": try writeKey(to: moved)
                case "command":
                    let name = (path as NSString).lastPathComponent
                    let shipped = ["providers", "hooks"].map { "\(DocSnippetTests.repository)/\($0)/\(name)" }
                        .first { FileManager.default.isExecutableFile(atPath: $0) }
                    let script = shipped.map { try? String(contentsOfFile: $0, encoding: .utf8) } ?? nil
                    try (script ?? "#!/bin/sh\nexit 0\n").write(toFile: moved, atomically: true, encoding: .utf8)
                    chmod(moved, 0o755)
                case "file": zoneFiles.append(moved)
                case "include_file":
                    includeFile = moved
                    FileManager.default.createFile(atPath: moved, contents: Data())
                case "state_dir": break
                case "api_token_file", "api_key_file", "application_secret_file", "consumer_key_file":
                    try "documentation-token\n".write(toFile: moved, atomically: true, encoding: .utf8)
                    chmod(moved, 0o600)
                case "registration_file":
                    // An acme-dns registration file as lego and certbot-dns-acmedns keep it.
                    try #"{"example.com": {"username": "eabcdb41-d89f-4580-826f-3e62e9755ef2", "password": "pbAXVjlIOE01xbut7YnAbkhMQIkcwoHO0ek2j4Q0", "fulldomain": "d420c923-bbd7-4056-ab64-c3ca54c9b3cf.auth.example.org", "subdomain": "d420c923-bbd7-4056-ab64-c3ca54c9b3cf", "allowfrom": []}}"#
                        .write(toFile: moved, atomically: true, encoding: .utf8)
                    chmod(moved, 0o600)
                case "credentials_file" where text.contains(/(?m)^\s*type\s*=\s*"google"/):
                    try writeServiceAccountKey(to: moved)
                case "client_secret_file":
                    try "documentation-secret\n".write(toFile: moved, atomically: true, encoding: .utf8)
                    chmod(moved, 0o600)
                case "credentials_file":
                    let profile = text.firstMatch(of: /(?m)^\s*profile\s*=\s*"([^"]+)"/).map { String($0.1) } ?? "default"
                    try "[\(profile)]\naws_access_key_id = AKIDDOCS\naws_secret_access_key = docs\n"
                        .write(toFile: moved, atomically: true, encoding: .utf8)
                    chmod(moved, 0o600)
                case "python":
                    try "#!/bin/sh\nexit 0\n".write(toFile: moved, atomically: true, encoding: .utf8)
                    chmod(moved, 0o755)
                default: FileManager.default.createFile(atPath: moved, contents: Data("placeholder\n".utf8))
                }
                result = result.replacingOccurrences(of: "\"\(path)\"", with: "\"\(moved)\"")
            }
            for file in zoneFiles {
                var zone = "$TTL 60\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\n"
                if let includeFile { zone += "$INCLUDE \(includeFile)\n" }
                try zone.write(toFile: file, atomically: true, encoding: .utf8)
            }
            return result
        }

        /// A service account key as Google's console downloads it, with a fresh RSA key.
        func writeServiceAccountKey(to path: String) throws {
            let key = try runProcess("/usr/bin/openssl", ["genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
            #expect(key.status == 0)
            let object: [String: String] = ["type": "service_account", "project_id": "example-project", "private_key_id": "abc123",
                                            "private_key": key.stdout, "client_email": "dns01@example-project.iam.gserviceaccount.com",
                                            "token_uri": "https://oauth2.googleapis.com/token"]
            try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
            chmod(path, 0o600)
        }

        /// A real BIND key file, as the README tells the user to make it.
        func writeKey(to path: String) throws {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let key = try runProcess("/usr/sbin/tsig-keygen", ["-a", "hmac-sha256", "acme-key"])
            #expect(key.status == 0)
            try key.stdout.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o600)
        }
    }
}
