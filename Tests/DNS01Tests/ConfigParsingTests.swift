@testable import DNS01
import ACME
import DNS
import Foundation
import Providers
import Testing
import Settings

/// The configuration parsers against input from outside: durations, TOML that toml++ must never
/// see, state_dir.
@Suite("config parsing")
struct ConfigParsingTests {
    static let base = """
        [acme]
        directory = "https://127.0.0.1:9/dir"
        state_dir = "/var/lib/dns01-test"
        [[provider]]
        name = "p"
        type = "rfc2136"
        zones = ["example.test"]
        server = "127.0.0.1:9"

        """

    static func message(_ body: () throws -> Void) -> String? {
        do { try body() } catch { return "\(error)" }
        return nil
    }

    @Test(arguments: [
        ("300s", Duration.seconds(300)), ("1.5s", .milliseconds(1500)), ("250ms", .milliseconds(250)), ("5m", .seconds(300)),
        ("1h", .seconds(3600)), ("30d", .seconds(30 * 86_400)), (" 2s ", .seconds(2)), ("7", .seconds(7)), ("0", .zero),
        ("365d", Settings.maximumDuration), ("0.0005s", .milliseconds(1)),
    ] as [(String, Duration)])
    func durations(_ text: String, _ expected: Duration) throws {
        #expect(Settings.parseDuration(text) == expected)
        let settings = Settings(context: "[dns]", values: ["poll_interval": .string(text)])
        #expect(try settings.duration("poll_interval") == expected)
    }

    /// Each bad duration is a ConfigError naming the key (exit 2), never a trap.
    @Test(arguments: [
        ("1e20s", "is not a duration"), ("1e3", "is not a duration"), ("nan", "is not a duration"), ("nans", "is not a duration"),
        ("inf", "is not a duration"), ("infinity", "is not a duration"), ("-5s", "is not a duration"), ("0x10s", "is not a duration"),
        ("+5s", "is not a duration"), ("s", "is not a duration"),
        (".5s", "is not a duration"), ("5.s", "is not a duration"), ("5 s", "is not a duration"), ("", "is not a duration"),
        ("366d", "longer than the longest"), ("100000000000000000000s", "longer than the longest"),
        (String(repeating: "9", count: 400) + "ms", "longer than the longest"),
    ])
    func badDurations(_ text: String, _ reason: String) throws {
        #expect(Settings.parseDuration(text) == nil)
        let settings = Settings(context: "[dns]", values: ["propagation_timeout": .string(text)])
        let error = Self.message { _ = try settings.duration("propagation_timeout") }
        #expect(error?.contains("[dns]: key 'propagation_timeout'") == true, "\(error ?? "accepted")")
        #expect(error?.contains(reason) == true, "\(error ?? "accepted")")
    }

    @Test(arguments: [(-1, "must not be negative"), (Int.max, "is longer than the longest"), (Int.min, "must not be negative")])
    func badIntegerDurations(_ seconds: Int, _ reason: String) {
        let settings = Settings(context: "[[provider]] 'p'", values: ["timeout": .integer(seconds)])
        let error = Self.message { _ = try settings.duration("timeout") }
        #expect(error?.contains("[[provider]] 'p': key 'timeout' \(reason)") == true, "\(error ?? "accepted")")
    }

    /// What toml++ must never be handed (it aborted on the first), each refused naming file and line.
    @Test(arguments: [
        ("[dnsé]\n", "line 1: non-ASCII character U+E9 outside a quoted string"),
        ("a = 1\n[dns]\nrésolvers = []\n", "line 3: non-ASCII character U+E9"),
        ("a = 1\n\n[\u{1F600}]\n", "line 3: non-ASCII character U+1F600"),
        ("a = \"x\"\u{00A0}\n", "line 1: non-ASCII character U+A0"),
        ("a = 1\0\n", "line 1: a NUL character"),
        ("a = \"x\0y\"\n", "line 1: a NUL character"),
        ("# comment \u{7}\n", "line 1: control character U+0007"),
        ("a = \"\u{1B}[31m\"\n", "line 1: control character U+001B"),
        ("a = \"\\\u{1B}\"\n", "line 1: control character U+001B"),
        ("a = \"\\\0\"\n", "line 1: a NUL character"),
        ("a = 1\rb = 2\n", "line 1: a carriage return not followed by a line feed"),
        ("a = \"x\\u0000\"\n", "line 1: a \\u0000 escape"),
        ("a = \"\"\"\nx\\U00000000\"\"\"\n", "line 2: a \\u0000 escape"),
        ("a = \"unclosed\nb = 2\n", "line 1: a quoted string is not closed"),
        ("a = 'x\u{7F}'\n", "line 1: control character U+007F"),
        // Table headers toml++ asserted on (parse_key), found by fuzzing it.
        ("[)acme]\n", "line 1: a table header must be"),
        ("a = 1\n[[[[certificate]]\n", "line 2: a table header must be"),
        ("[\n", "line 1: a table header must be"),
        ("[.1:5]", "line 1: a table header must be"),
        (" \t[\t\t=.", "line 1: a table header must be"),
        ("[#cme]\n", "line 1: a table header must be"),
        ("[[#x]]\n", "line 1: a table header must be"),
        ("[a.)]\n", "line 1: a table header must be"),
        ("[a.]\n", "line 1: a table header must be"),
        ("[]\n", "line 1: a table header must be"),
        ("[[a]\n", "line 1: a table header must be"),
        ("[\"a\n\"]\n", "line 1: a table header must be"),
        ("[a b]\n", "line 1: a table header must be"),
        ("# x\n[=[zone]]\n", "line 2: a table header must be"),
        // Date-times toml++ asserted on (parse_time), found by fuzzing it behind the checks above.
        ("a = 1979-05-27T-07:32\n", "line 1: a date-time needs a time after its 'T'"),
        ("[dns]\nt = 1979-02-27Tpreferred_chain07:32:00Z\n", "line 2: a date-time needs a time"),
        ("t = [1979-02-27t[07:32:00Z]]\n", "line 1: a date-time needs a time"),
        ("t = { a = 1979-02-27T }\n", "line 1: a date-time needs a time"),
        ("motoa3=1979-05-27 9 77=", "line 1: a date-time needs a two-digit hour after the space"),
        ("a = [1979-05-27 9]\n", "line 1: a date-time needs a two-digit hour"),
        ("motoa3=1979-j5-27 9 77=", "line 1: a date-time needs a two-digit hour"),
        ("ay =1980-p4-7a 0\t", "line 1: a date-time needs a two-digit hour"),
        ("a4=1977-05-37 7]-eycon,urre1", "line 1: a date-time needs a two-digit hour"),
        ("ayd =1980-p'-7a 0\t", "line 1: a date-time needs a two-digit hour"),
        ("a=1979-\n5-27 9 ", "line 2: a date-time needs a two-digit hour"),
        ("a = 'never closed", "line 1: a quoted string is never closed"),
        ("a = \"\"\"\nnever closed\n", "line 3: a quoted string is never closed"),
        ("a = x'é'\n", "line 1: non-ASCII character U+E9"),
        // A '}' inside an array: toml++ asserted (parse_value).
        ("pr=[[}one]]4+ e\n", "line 1: '}' closes a '[' (mismatched brackets)"),
        ("a = [\n  1,\n  }\n]\n", "line 3: '}' closes a '['"),
        ("a = { b = [1 } ]\n", "line 1: '}' closes a '['"),
        ("a = { b = ] }\n", "line 1: ']' closes a '{'"),
    ])
    func tomlThatNeverReachesTOMLKit(_ text: String, _ reason: String) {
        let error = Self.message { _ = try TOMLReader.read(text, path: "/etc/dns01/dns01.toml") }
        #expect(error?.hasPrefix("/etc/dns01/dns01.toml: ") == true, "\(error ?? "accepted")")
        #expect(error?.contains(reason) == true, "\(error ?? "accepted")")
    }

    /// Non-ASCII and quotes where TOML allows them still read.
    @Test func tomlThatStillReads() throws {
        let text = """
            # Kommentar: é, 😀
            ["dnsé"]
            "clé" = "valeur é"
            lit = 'C:\\é'
            ml = \"\"\"
            ligne "un" ""
            é\"\"\"\"\"
            mll = '''
            it's ''é'' '''
            esc = "\\"[é]\\" \\\\"
            crlf = 1\r
            when = 1979-05-27T07:32:00Z
            day = 1979-05-27
            spaced = 1979-05-27 07:32:00Z
            days = [1979-05-27 , 1979-05-28]
            a."b.c".'d' = "dotted"
            it = { "x y" = 1, z.'w' = "q" }
            1979-05-27Tkey = "a bare key that looks like a date"
            arr = [
              [1, 2],
              { x = [3] },
            ]
            [t]
            x = 2
            [ "a b" . 'c' . d-e_f ]
            [[ t2 . x ]]
            """
        let table = try TOMLReader.read(text, path: "t.toml")
        guard case .table(let section)? = table["dnsé"] else { Issue.record("no [\"dnsé\"]: \(table)"); return }
        #expect(section["clé"] == .string("valeur é"))
        #expect(section["ml"] == .string("ligne \"un\" \"\"\né\"\""))
        #expect(section["mll"] == .string("it's ''é'' "))
        #expect(section["esc"] == .string("\"[é]\" \\"))
        #expect(section["crlf"] == .integer(1))
        #expect(section["arr"] == .array([.array([.integer(1), .integer(2)]), .table(["x": .array([.integer(3)])])]))
        guard case .table(let t)? = table["t"] else { Issue.record("no [t]: \(table)"); return }
        #expect(t["x"] == .integer(2))
        #expect(table["a b"] == .table(["c": .table(["d-e_f": .table([:])])]))
        #expect(table["t2"] == .table(["x": .array([.table([:])])]))
    }

    @Test func oversizedConfigIsRefused() {
        let text = "a = 1\n" + String(repeating: "# padding\n", count: 110_000)
        #expect(Self.message { _ = try TOMLReader.read(text, path: "big.toml") }?.contains("larger than 1 MiB") == true)
    }

    @Test(arguments: ["\"\"", "\"   \"", "\"a\\u0001b\""])
    func stateDirMustNotBeEmpty(_ value: String) {
        let text = Self.base.replacingOccurrences(of: "state_dir = \"/var/lib/dns01-test\"", with: "state_dir = \(value)")
        let error = Self.message { _ = try Configuration.parse(text, path: "/etc/dns01/dns01.toml") }
        #expect(error?.hasPrefix("[acme]: state_dir ") == true, "\(error ?? "accepted")")
    }

    @Test(arguments: [
        ("/etc/dns01/dns01.toml", "state", "/etc/dns01/state"),
        ("/etc/dns01/dns01.toml", "../lib/dns01", "/etc/dns01/../lib/dns01"),
        ("/etc/dns01/dns01.toml", "/srv/dns01", "/srv/dns01"),
    ])
    func relativeStateDirIsTakenFromTheConfigDirectory(_ config: String, _ stateDir: String, _ expected: String) throws {
        let text = Self.base.replacingOccurrences(of: "state_dir = \"/var/lib/dns01-test\"", with: "state_dir = \"\(stateDir)\"")
        #expect(try Configuration.parse(text, path: config).acme.stateDir == expected)
    }

    @Test func relativeConfigPathAndRelativeStateDir() throws {
        let text = Self.base.replacingOccurrences(of: "state_dir = \"/var/lib/dns01-test\"", with: "state_dir = \"state\"")
        let working = FileManager.default.currentDirectoryPath
        #expect(try Configuration.parse(text, path: "dns01.toml").acme.stateDir == working + "/state")
        #expect(try Configuration.parse(text, path: "etc/dns01.toml").acme.stateDir == working + "/etc/state")
        #expect(try Configuration.parse(Self.base.replacingOccurrences(of: "state_dir = \"/var/lib/dns01-test\"\n", with: ""),
                                        path: "dns01.toml").acme.stateDir == "/var/lib/dns01")
    }

    /// Through the binary: exit 2 and one line naming the file, for each input that trapped or
    /// aborted before.
    @Test(arguments: [
        ("[dnsé]\nx = 1\n", "dns01.toml: line 9: non-ASCII character"),
        ("[dns]\npropagation_timeout = \"1e20s\"\n", "key 'propagation_timeout' is not a duration"),
        ("[dns]\npoll_interval = \"99999999999999999999d\"\n", "key 'poll_interval' is longer than"),
        ("", "state_dir must not be empty"),
    ])
    func cliExitsTwo(_ extra: String, _ reason: String) async throws {
        let text = extra.isEmpty
            ? Self.base.replacingOccurrences(of: "state_dir = \"/var/lib/dns01-test\"", with: "state_dir = \"\"")
            : Self.base + extra
        try await BadInputTests.withTempConfig(text) { config in
            let result = try await CLIRunner.run(["issue", "-c", config, "-d", "example.test"])
            #expect(result.status == 2, "stderr: \(result.stderr)")
            #expect(result.stderr.contains(reason), "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "one sentence: \(result.stderr)")
        }
    }
}

/// What each challenge type puts before a name is what its records really carry, so the room
/// a name must leave (IdentifierList) is exact.
@Suite struct ChallengeRecordPrefixTests {
    @Test(arguments: ChallengeKind.allCases)
    func prefixLengthMatchesTheRecordName(_ kind: ChallengeKind) {
        let name = "www.example.test"
        let record = switch kind {
        case .dns01: DomainName.challengeName(for: name)
        case .dnsAccount01: DNSAccountLabel(accountURL: "https://ca.example/acct/1").challengeName(for: name)
        case .dnsPersist01: PersistRecord.label + "." + name
        }
        #expect(record.utf8.count - name.utf8.count == kind.recordPrefix.octets, "\(record)")
    }

    /// The longest name dns-01 allows is refused for dns-account-01, as a usage error.
    @Test func identifierListChecksTheChosenChallenge() throws {
        let name = (String(repeating: "a", count: 62) + ".") + (String(repeating: "b", count: 62) + ".") + (String(repeating: "c", count: 62) + ".") + String(repeating: "d", count: 48)
        #expect(name.utf8.count == 237)
        #expect(try IdentifierList.normalize([name]) == [name])
        #expect(throws: UsageError.self) { try IdentifierList.normalize([name], challenge: .dnsAccount01) }
        #expect(throws: UsageError.self) { try IdentifierList.normalize([name + "e"]) }
    }
}
