import Foundation
import Testing
import TestLab

/// Issue 16: `type = "cloudflare"` against the Cloudflare API stand-in (Tests/Support), which
/// writes every record into the lab's BIND, so Pebble validates through real DNS.
@Suite("Cloudflare provider") struct CloudflareProviderTests {
    /// The lab's config with its rfc2136 provider replaced by a cloudflare one.
    static func config(_ lab: TestLab, _ api: TestLab.CloudflareAPI, zones: [String] = ["example.test"],
                       tokenLine: String? = nil, extra: String = "") throws -> String {
        try lab.writeConfig(replacingProviderWith: """
            [[provider]]
            name = "cf"
            type = "cloudflare"
            zones = [\(zones.map { "\"\($0)\"" }.joined(separator: ", "))]
            \(tokenLine ?? "api_token_file = \"\(api.tokenFile)\"")
            api_url = "\(api.baseURL)"
            \(extra)
            """)
    }

    @Test func wildcardAndApexInOneBatchEach() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 1))
        defer { lab.stop() }
        let api = try await lab.startCloudflareAPI()
        let result = try await CLIRunner.run(["issue", "-c", try Self.config(lab, api), "-d", "*.example.test", "-d", "example.test"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(lab.directory)/state/live/example.test/cert.pem")
                == ["*.example.test", "example.test"])
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
        let requests = try api.requests()
        // One zone lookup, one batch to create both values, one to delete them.
        #expect(requests["GET /client/v4/zones"] == 1, "\(requests)")
        #expect(requests["POST /client/v4/zones/{id}/dns_records/batch"] == 2, "\(requests)")
        #expect(requests.values.reduce(0, +) == 3, "\(requests)")
        #expect(!result.stderr.contains(try String(contentsOfFile: api.tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    @Test func twentyCertificatesTakeAHandfulOfRequests() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 1))
        defer { lab.stop() }
        let api = try await lab.startCloudflareAPI()
        // Orders one at a time: Pebble 2.4 can deadlock on overlapping newOrders (bench/README.md),
        // and what this counts is the DNS API's requests, which do not depend on it.
        var config = try String(contentsOfFile: try Self.config(lab, api), encoding: .utf8)
            .replacingOccurrences(of: "[acme]\n", with: "[acme]\nconcurrency = 1\n")
        for index in 1...20 {
            config += "\n[[certificate]]\nname = \"c\(index)\"\ndomains = [\"*.c\(index).example.test\", \"c\(index).example.test\"]\n"
        }
        let path = "\(lab.directory)/cloudflare-20.toml"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await CLIRunner.run(["run", "-c", path, "--json"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let requests = try api.requests()
        let total = requests.values.reduce(0, +)
        // 40 values: one zone lookup, one batch in, one batch out.
        #expect(requests["POST /client/v4/zones/{id}/dns_records/batch"] == 2, "\(requests)")
        #expect(total == 3, "\(total) requests: \(requests)")
        #expect(try lab.leftoverChallengeValues((1...20).map { "c\($0).example.test" }).isEmpty)
    }

    /// A value that is there already (a hook run twice) makes Cloudflare refuse the whole batch
    /// (code 81058): the provider looks, leaves it out, and creates the rest.
    @Test func aValueAlreadyThereIsLeftOutOfTheBatch() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startCloudflareAPI()
        let config = try Self.config(lab, api)
        let value = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
        let env = ["CERTBOT_DOMAIN": "example.test", "CERTBOT_VALIDATION": value, "CERTBOT_REMAINING_CHALLENGES": "0",
                   "CERTBOT_ALL_DOMAINS": "example.test", "DNS01_CONFIG": config]
        for _ in 1...2 {
            let auth = try await CLIRunner.run(["certbot", "auth"], environment: env)
            #expect(auth.status == 0, "stderr: \(auth.stderr)")
        }
        #expect(try lab.txtValues("_acme-challenge.example.test", at: lab.primary) == [value])
        let requests = try api.requests()
        #expect(requests["GET /client/v4/zones/{id}/dns_records"] == 1, "\(requests)")
        let cleanup = try await CLIRunner.run(["certbot", "cleanup"], environment: env)
        #expect(cleanup.status == 0, "stderr: \(cleanup.stderr)")
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
    }

    @Test func badInputIsOneSentenceAndLeavesNothing() async throws {
        let lab = try await TestLab.start(.init(zones: ["example.test", "other.test"], startPebble: true))
        defer { lab.stop() }
        let api = try await lab.startCloudflareAPI(zones: ["example.test"])
        let token = try String(contentsOfFile: api.tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)

        // A token file that is missing, or that others can read: exit 2 naming the file.
        let missing = try await CLIRunner.run(["check", "-c", try Self.config(lab, api, tokenLine: "api_token_file = \"/nonexistent/token\""),
                                               "-d", "example.test"])
        #expect(missing.status == 2 && missing.stderr.contains("/nonexistent/token"), "\(missing.stderr)")
        let open = "\(lab.directory)/open-token"
        try token.write(toFile: open, atomically: true, encoding: .utf8)
        chmod(open, 0o644)
        let readable = try await CLIRunner.run(["check", "-c", try Self.config(lab, api, tokenLine: "api_token_file = \"\(open)\""),
                                                "-d", "example.test"])
        #expect(readable.status == 2 && readable.stderr.contains("readable by others"), "\(readable.stderr)")
        #expect(!readable.stderr.contains(token))
        let inline = try await CLIRunner.run(["check", "-c", try Self.config(lab, api, tokenLine: "api_token = \"\(token)\""), "-d", "example.test"])
        #expect(inline.status == 2 && inline.stderr.contains("never goes in the config") && !inline.stderr.contains(token), "\(inline.stderr)")

        // A wrong token: Cloudflare's message, the provider and the zone; no token printed.
        let wrong = "\(lab.directory)/wrong-token"
        try "not-the-token\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        chmod(wrong, 0o600)
        let denied = try await CLIRunner.run(["check", "-c", try Self.config(lab, api, tokenLine: "api_token_file = \"\(wrong)\""), "-d", "example.test"])
        #expect(denied.status == 1, "\(denied.stderr)")
        #expect(denied.stderr.contains("provider 'cf' (cloudflare)") && denied.stderr.contains("example.test")
                && denied.stderr.contains("Authentication error"), "\(denied.stderr)")
        #expect(!denied.stderr.contains("not-the-token"))

        // A zone the account does not have: the records already written in the other zone are
        // removed again.
        let both = try Self.config(lab, api, zones: ["example.test", "other.test"])
        let unknown = try await CLIRunner.run(["issue", "-c", both, "-d", "example.test", "-d", "other.test"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("Cloudflare has no zone other.test"), "\(unknown.stderr)")
        #expect(try lab.leftoverChallengeValues(["example.test", "other.test"]).isEmpty)

        // A 429 storm: the provider retries as asked, then gives up with one sentence.
        try api.throttle(1000)
        let storm = try await CLIRunner.run(["check", "-c", try Self.config(lab, api, extra: "timeout = \"2s\""), "-d", "example.test"])
        #expect(storm.status == 1)
        #expect(storm.stderr.contains("429") && storm.stderr.contains("example.test"), "\(storm.stderr)")
        try api.throttle(0)
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
    }
    /// Item 5 of "Trust, round two": against an API that accepts connections and never answers,
    /// each provider call ends within its budget (4 × `timeout`), the attempts' own time
    /// counted. Before, the budget counted only the waits between attempts: five attempts of
    /// `timeout` each plus 7.5 s of waits per call, about 35 s for `check` at timeout = "2s"
    /// (65 s at "5s"); now about 8 s per call, 16 s for the two calls.
    @Test func anAPIThatNeverAnswersEndsWithinTheBudget() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startCloudflareAPI()
        let listener = try SilentListener()
        defer { listener.stop() }
        var config = try String(contentsOfFile: try Self.config(lab, api, extra: "timeout = \"2s\""), encoding: .utf8)
        config = config.replacingOccurrences(of: api.baseURL, with: "http://127.0.0.1:\(listener.port)/client/v4")
        let path = "\(lab.directory)/silent-api.toml"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        let start = ContinuousClock.now
        let result = try await CLIRunner.run(["check", "-c", path, "-d", "example.test"])
        let took = ContinuousClock.now - start
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stdout.contains("Timeout") || result.stderr.contains("Timeout"), "\(result.stdout)\(result.stderr)")
        // A bound on a hang, not a measure: 2 calls × 8 s, with room for a loaded machine.
        #expect(took < .seconds(26), "check took \(took)")
    }
}

/// A TCP listener on a free loopback port that never accepts: the kernel completes each
/// handshake into the backlog, the client sends its request, and no answer ever comes.
final class SilentListener: @unchecked Sendable {
    let fd: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LabError("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        let named = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        guard bound == 0, listen(fd, 64) == 0, named == 0 else {
            close(fd)
            throw LabError("cannot listen on 127.0.0.1")
        }
        self.fd = fd
        port = UInt16(bigEndian: address.sin_port)
    }

    func stop() { close(fd) }
}

/// Hardening "Trust, round two" item 4 (and 2): Cloudflare's `errors[].message` is untrusted text.
@Suite("Cloudflare provider: hostile error text") struct CloudflareHostileErrorTests {
    @Test func aHostileErrorMessageIsRedactedStrippedAndClipped() async throws {
        let lab = try await TestLab.start(.init())
        defer { lab.stop() }
        let api = try await lab.startCloudflareAPI()
        let token = try String(contentsOfFile: api.tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        // A forged journald line, an ANSI escape, the token echoed back, and 200 KB.
        let hostile = "bad request\n<0>dns01: forged line\u{1B}[31m token \(token) " + String(repeating: "A", count: 200_000)
        try api.fail(20, status: 400, errors: [(code: 1004, message: hostile)])
        let result = try await CLIRunner.run(["check", "-c", try CloudflareProviderTests.config(lab, api), "-d", "example.test"])
        #expect(result.status == 1, "stderr: \(result.stderr.prefix(2000))")
        let output = result.stdout + result.stderr
        #expect(!output.split(separator: "\n").contains { $0.hasPrefix("<0>") || $0.hasPrefix("dns01: forged") }, "\(output.prefix(2000))")
        #expect(!output.contains("\u{1B}"))
        #expect(!output.contains(token))
        #expect(output.utf8.count < 20_000, "\(output.utf8.count) bytes of output")
        #expect(output.contains("Cloudflare answered bad request?<0>dns01: forged line?[31m token [redacted] AAAA"), "\(output.prefix(2000))")
    }
}
