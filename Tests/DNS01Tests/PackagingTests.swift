@testable import DNS01
import Foundation
import Testing

/// Issue 18 §1, §2: what scripts/package ships and what `dns01 --version` prints. The example
/// /etc/dns01/dns01.toml is read by dns01's own parser (as shipped, and with every commented-out
/// table and key switched on), the way DocSnippetTests reads the README's snippets.
@Suite("Packaging") struct PackagingTests {
    static var exampleConfig: String { DocSnippetTests.repository + "/packaging/dns01.toml" }

    @Test func exampleConfigParsesAsShipped() throws {
        let sandbox = try DocSnippetTests.Sandbox()
        defer { sandbox.remove() }
        let text = try String(contentsOfFile: Self.exampleConfig, encoding: .utf8)
        let configuration = try Configuration.parse(try sandbox.materialize(text), path: "packaging/dns01.toml")
        #expect(configuration.certificates.isEmpty, "the shipped config must issue nothing until the admin fills it in")
        #expect(configuration.acme.stateDir.hasSuffix("/var/lib/dns01"))
    }

    @Test func exampleConfigParsesWithItsExamplesSwitchedOn() throws {
        let sandbox = try DocSnippetTests.Sandbox()
        defer { sandbox.remove() }
        let text = try String(contentsOfFile: Self.exampleConfig, encoding: .utf8)
        let switchedOn = Self.switchedOn(text)
        let configuration = try Configuration.parse(try sandbox.materialize(switchedOn), path: "packaging/dns01.toml")
        #expect(configuration.certificates.map(\.name) == ["example.com"])
        #expect(configuration.providers.count == 2)
        #expect(configuration.storage.kind == .postgres)
    }

    /// The example with every commented-out table and key line switched on.
    static func switchedOn(_ text: String) -> String {
        text.components(separatedBy: "\n").map { line in
            guard let match = line.firstMatch(of: /^#\s*(\[\[?[a-z]+\]\]?\s*|[a-z_]+\s*=.*)$/) else { return line }
            return String(match.1)
        }.joined(separator: "\n")
    }

    /// Every /usr/lib/dns01 path the example names is a file scripts/package installs there.
    @Test func exampleConfigNamesOnlyShippedScripts() throws {
        let text = try String(contentsOfFile: Self.exampleConfig, encoding: .utf8)
        let paths = text.matches(of: /\/usr\/lib\/dns01\/([A-Za-z0-9_\/.-]+)/).map { String($0.1) }
        #expect(!paths.isEmpty)
        for path in paths {
            #expect(FileManager.default.isExecutableFile(atPath: DocSnippetTests.repository + "/" + path),
                    "packaging/dns01.toml names /usr/lib/dns01/\(path), which is not an executable \(path) in the repository")
        }
    }

    /// Hardening "Trust, round two" item 3: the package installs /etc/dns01/dns01.toml 0640
    /// root:root (scripts/package builds with --root-owner-group, and its --install-check reads
    /// the mode back after dpkg -i).
    @Test func configIsInstalledReadableByRootOnly() throws {
        let script = try String(contentsOfFile: DocSnippetTests.repository + "/scripts/package", encoding: .utf8)
        let installs = script.split(separator: "\n").filter { $0.hasPrefix("install ") && $0.contains("etc/dns01/dns01.toml") }
        #expect(installs == [#"install -D -m 640 packaging/dns01.toml "$root/etc/dns01/dns01.toml""#], "\(installs)")
        #expect(script.contains("dpkg-deb --root-owner-group"))
        #expect(script.contains(#"[[ $config_mode == "640 root:root" ]]"#))
    }

    @Test func versionIsTheOneInVersionSwift() async throws {
        let source = try String(contentsOfFile: DocSnippetTests.repository + "/Sources/dns01/Version.swift", encoding: .utf8)
        let number = try #require(source.firstMatch(of: /static let number = "([0-9]+\.[0-9]+\.[0-9]+)"/)).1
        let result = try await CLIRunner.run(["--version"])
        #expect(result.status == 0)
        let printed = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(printed.wholeMatch(of: /[0-9]+\.[0-9]+\.[0-9]+( \(git [0-9a-f]{12}(-dirty)?\))?/) != nil, "dns01 --version printed '\(printed)'")
        #expect(printed.hasPrefix(String(number)), "dns01 --version printed '\(printed)', Version.swift says \(number)")
    }
}
