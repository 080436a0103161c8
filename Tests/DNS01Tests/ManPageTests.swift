@testable import DNS01
import Foundation
import Providers
import Settings
import Testing

/// Issue "The first hour with the package" §2, §3: the man pages say what dns01 and its
/// configuration are, dns01.toml(5) documents exactly the keys the parser accepts, and README's
/// list of the package's dependencies is the package's Depends.
@Suite("Man pages and Depends") struct ManPageTests {
    static var configPage: String { DocSnippetTests.repository + "/packaging/dns01.toml.5" }
    static var commandPage: String { DocSnippetTests.repository + "/packaging/dns01.1" }

    // MARK: dns01.toml(5) against the parser

    /// The page's keys by heading: `.SS [acme]` → its `.TP` items' keys (`\fBkey\fR = ...`).
    static func documentedKeys() throws -> [String: [String]] {
        let lines = try String(contentsOfFile: configPage, encoding: .utf8).components(separatedBy: "\n")
        var keys: [String: [String]] = [:]
        var heading: String?
        for (index, line) in lines.enumerated() {
            if line.hasPrefix(".SH ") { heading = nil }
            if let match = line.wholeMatch(of: /\.SS "?([^"]+)"?/) {
                heading = String(match.1)
                keys[String(match.1), default: []] += []
            }
            guard line == ".TP", let heading, index + 1 < lines.count,
                  let key = lines[index + 1].firstMatch(of: /^\\fB([a-z_]+)\\fR/) else { continue }
            keys[heading, default: []].append(String(key.1))
        }
        return keys
    }

    /// The tables: `[acme]` → "acme", `[[certificate]]` → "certificate"; provider headings are
    /// `type = rfc2136`.
    static func tableName(_ heading: String) -> String? {
        heading.wholeMatch(of: /\[\[?([a-z]+)\]\]?/).map { String($0.1) }
    }

    static func providerType(_ heading: String) -> String? {
        heading.wholeMatch(of: /type = ([a-z0-9-]+)/).map { String($0.1) }
    }

    /// Lines that make the parser reach a table's own keys (resolvers set, so /etc/resolv.conf
    /// does not matter); the table's text follows.
    static let prelude = "[dns]\nresolvers = [\"127.0.0.1\"]\n"

    /// The configuration text with `line` in the table named `table` ("" for the top level,
    /// "provider:TYPE" for a provider of that type).
    static func config(table: String, line: String) -> String {
        if table.isEmpty { return line + "\n" + prelude }
        if table.hasPrefix("provider:") {
            return prelude + "[[provider]]\ntype = \"\(table.dropFirst("provider:".count))\"\n" + line + "\n"
        }
        if table == "dns" { return "[dns]\n" + line + "\n" }
        let header = ["zone", "certificate"].contains(table) ? "[[\(table)]]" : "[\(table)]"
        return prelude + header + "\n" + line + "\n"
    }

    /// The parser's error for `text`, or nil when it accepts it.
    static func parseError(_ text: String) -> String? {
        do {
            _ = try Configuration.parse(text, path: "dns01.toml", requiresCA: false)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// The keys the parser accepts in a table, as its own unknown-key error lists them (the
    /// list each `rejectUnknownKeys(allowed:)` is given).
    static func acceptedKeys(table: String) throws -> Set<String> {
        let error = try #require(parseError(config(table: table, line: "no_such_key_in_dns01 = 1")),
                                 "the parser accepted an unknown key in '\(table)'")
        let list = try #require(error.firstMatch(of: /unknown key 'no_such_key_in_dns01' \(known keys: ([a-z_, ]+)\)/),
                                "'\(table)': \(error)")
        return Set(list.1.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
    }

    /// What the provider table itself takes for every type, besides what the type's Config
    /// lists: read by Configuration.parse before the provider is made.
    static let everyProviderReads: Set<String> = ["single_value"]

    @Test func configPageDocumentsExactlyTheKeysTheParserAccepts() throws {
        let documented = try Self.documentedKeys()
        let tables = documented.keys.compactMap(Self.tableName)
        #expect(Set(tables) == (try Self.acceptedKeys(table: "")),
                "dns01.toml(5)'s tables are not the parser's top-level keys")
        for heading in documented.keys.sorted() {
            guard let table = Self.tableName(heading), table != "provider" else { continue }
            let keys = try #require(documented[heading])
            #expect(keys.count == Set(keys).count, "\(heading) documents a key twice: \(keys)")
            #expect(Set(keys) == (try Self.acceptedKeys(table: table)), "\(heading): the page's keys are not the parser's")
        }
        let common = Set(try #require(documented["[[provider]]"], "no [[provider]] heading"))
        let types = documented.keys.compactMap(Self.providerType)
        #expect(Set(types) == Set(ProviderRegistry.factories.keys), "dns01.toml(5) has a heading for provider types \(types.sorted())")
        for type in ProviderRegistry.factories.keys.sorted() {
            let own = Set(documented["type = \(type)"] ?? [])
            #expect(own.isDisjoint(with: common), "type = \(type) repeats keys of every provider")
            let accepted = try Self.acceptedKeys(table: "provider:\(type)").union(Self.everyProviderReads)
            #expect(own.union(common) == accepted, """
                type = \(type): the page documents \(own.union(common).subtracting(accepted).sorted()) that the parser \
                refuses and leaves out \(accepted.subtracting(own.union(common)).sorted())
                """)
        }
    }

    /// Each documented key, fed alone to the parser in its table, is not an unknown key.
    @Test func everyKeyThePageDocumentsIsAccepted() throws {
        let documented = try Self.documentedKeys()
        let common = documented["[[provider]]"] ?? []
        var fed = 0
        for (heading, keys) in documented {
            var tables: [(table: String, keys: [String])] = []
            if let table = Self.tableName(heading), table != "provider" {
                tables.append((table, keys))
            } else if let type = Self.providerType(heading) {
                tables.append(("provider:\(type)", keys + common.filter { $0 != "type" }))
            }
            for (table, keys) in tables {
                for key in keys {
                    let error = Self.parseError(Self.config(table: table, line: "\(key) = true")) ?? ""
                    #expect(!error.contains("unknown key"), "\(heading) \(key): \(error)")
                    fed += 1
                }
            }
        }
        for table in documented.keys.compactMap(Self.tableName) where table != "provider" {
            let error = Self.parseError("\(table) = true\n") ?? ""
            #expect(!error.contains("unknown key"), "top-level \(table): \(error)")
        }
        #expect(fed > 60)
    }

    // MARK: dns01(1)

    /// dns01(1)'s COMMANDS are the subcommands `dns01 --help` lists.
    @Test func commandPageListsEverySubcommand() async throws {
        let page = try String(contentsOfFile: Self.commandPage, encoding: .utf8)
        let section = try #require(page.firstMatch(of: /\n\.SH COMMANDS\n([\s\S]*?)\n\.SH[ ]/)).1
        let documented = section.matches(of: /\.TP\n\.B ([a-z-]+)\n/).map { String($0.1) }
        let help = try await CLIRunner.run(["--help"])
        let subcommands = try #require(help.stdout.firstMatch(of: /SUBCOMMANDS:\n([\s\S]*?)(\n\n|$)/)).1
        let listed = subcommands.matches(of: /(?m)^  ([a-z-]+)/).map { String($0.1) }
        #expect(!listed.isEmpty, "\(help.stdout)")
        #expect(Set(documented) == Set(listed), "dns01(1) lists \(documented), dns01 --help \(listed)")
    }

    /// The hand-written pages render without a warning at 80 columns, and have the NAME line
    /// (`name \- what it is`) that man -k and lexgrog read.
    @Test(arguments: ["packaging/dns01.1", "packaging/dns01.toml.5"])
    func pageRendersAndHasAWhatisEntry(_ page: String) async throws {
        let path = DocSnippetTests.repository + "/" + page
        let rendered = try await runProcessOffPool("/usr/bin/man", ["--warnings", "-l", path], environment: ["MANWIDTH": "80", "PATH": "/usr/bin:/bin"])
        #expect(rendered.status == 0 && rendered.stderr.isEmpty, "man --warnings -l \(page): \(rendered.stderr)")
        #expect(rendered.stdout.contains("NAME"))
        let whatis = try await runProcessOffPool("/usr/bin/lexgrog", [path])
        #expect(whatis.status == 0 && whatis.stdout.contains(" - "), "lexgrog \(page): \(whatis.stdout)\(whatis.stderr)")
    }

    // MARK: Depends

    /// The package names README's Install section gives as the package's dependencies: the
    /// backticked names in the sentence from "Its `Depends` are" to the next ";".
    static func readmeDepends() throws -> [String] {
        let readme = try String(contentsOfFile: DocSnippetTests.repository + "/README.md", encoding: .utf8)
        let sentence = try #require(readme.firstMatch(of: /Its `Depends` are ([^;]+);/), "README.md has no \"Its `Depends` are ...;\" sentence").1
        return sentence.matches(of: /`([a-z0-9][a-z0-9.+-]+)`/).map { String($0.1) }
    }

    /// Package names of a Depends field (versions and alternatives' second choices dropped).
    static func packageNames(_ depends: Substring) -> [String] {
        depends.split(separator: ",").compactMap { item in
            item.split(separator: "|").first?.split(separator: " ").first.map(String.init)
        }
    }

    /// `ca-certificates` arrives only through libcurl4's Recommends: the control file depends on
    /// it, and README says so.
    @Test func packageDependsOnTheCABundle() throws {
        let control = try String(contentsOfFile: DocSnippetTests.repository + "/packaging/control", encoding: .utf8)
        let depends = try #require(control.firstMatch(of: /(?m)^Depends: (.*)$/)).1
        #expect(Self.packageNames(depends).contains("ca-certificates"), "packaging/control: Depends: \(depends)")
        #expect(depends.contains("@DEPENDS@"), "what dpkg-shlibdeps finds goes in too")
        #expect(try Self.readmeDepends().contains("ca-certificates"))
    }

    /// The built package, when scripts/package has made one; under CI=true scripts/test makes it
    /// before the tests, so there it must exist.
    static var builtPackage: String? {
        let directory = DocSnippetTests.repository + "/.build-package"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasPrefix("dns01_") && $0.hasSuffix(".deb") }.sorted().last.map { directory + "/" + $0 }
    }

    static var underCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    @Test(.enabled(if: builtPackage != nil || underCI, "no .build-package/dns01_*.deb: run scripts/package (CI=true scripts/test does)"))
    func readmeListsThePackagesDepends() async throws {
        let deb = try #require(Self.builtPackage, "CI=true but scripts/package built no .build-package/dns01_*.deb")
        let field = try await runProcessOffPool("/usr/bin/dpkg-deb", ["-f", deb, "Depends"])
        #expect(field.status == 0, "dpkg-deb -f \(deb) Depends: \(field.stderr)")
        let depends = Self.packageNames(Substring(field.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(!depends.isEmpty)
        let readme = try Self.readmeDepends()
        #expect(readme.sorted() == depends.sorted(), "README.md says the package depends on \(readme.sorted()); \(deb) has Depends: \(field.stdout)")
    }

    /// Every man page of the built package renders without a warning and has a whatis entry
    /// (`man -k dns01` lists it with its description; lintian's bad-whatis-entry is this check):
    /// the subcommands' pages as scripts/package rewrites generate-manual's NAME section.
    @Test(.enabled(if: builtPackage != nil || underCI, "no .build-package/dns01_*.deb: run scripts/package (CI=true scripts/test does)"))
    func packagedManPagesHaveWhatisEntries() async throws {
        let deb = try #require(Self.builtPackage, "CI=true but scripts/package built no .build-package/dns01_*.deb")
        let sandbox = try DocSnippetTests.Sandbox()
        defer { sandbox.remove() }
        let extracted = try await runProcessOffPool("/usr/bin/dpkg-deb", ["-x", deb, sandbox.root])
        #expect(extracted.status == 0, "dpkg-deb -x \(deb): \(extracted.stderr)")
        var pages: [String] = []
        for section in ["man1", "man5"] {
            let directory = sandbox.root + "/usr/share/man/" + section
            pages += ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).map { directory + "/" + $0 }
        }
        let names = Set(pages.map { URL(fileURLWithPath: $0).lastPathComponent })
        #expect(names.isSuperset(of: ["dns01.1.gz", "dns01.toml.5.gz", "dns01.run.1.gz", "dns01.issue.1.gz"]), "\(names.sorted())")
        for page in pages.sorted() {
            let name = URL(fileURLWithPath: page).lastPathComponent
            let rendered = try await runProcessOffPool("/usr/bin/man", ["--warnings", "-l", page], environment: ["MANWIDTH": "80", "PATH": "/usr/bin:/bin"])
            #expect(rendered.status == 0 && rendered.stderr.isEmpty, "man --warnings -l \(name): \(rendered.stderr)")
            let whatis = try await runProcessOffPool("/usr/bin/lexgrog", [page])
            let pageName = String(name.dropLast(".1.gz".count))
            #expect(whatis.status == 0 && whatis.stdout.contains("\"\(pageName) - "), "lexgrog \(name): \(whatis.stdout)\(whatis.stderr)")
        }
    }
}
