import ACME
import Foundation
import HTTP
import TestLab
import Testing

/// A CA that misbehaves (HostileCA: a proxy in front of the lab's Pebble) never costs a good
/// certificate, a record left in DNS or an unbounded wait: `dns01 issue` ends in bounded time
/// with exit 1 and one sentence naming the fault, no challenge record is left, and `live/` and
/// `archive/` are byte for byte as a good issuance through plain Pebble left them.
@Suite("hostile CA", .serialized)
struct HostileCATests {
    struct Case: Sendable, CustomTestStringConvertible {
        var mode: HostileCA.Mode
        /// For `servedChain`: the certificate name whose good fullchain.pem the proxy serves.
        var servedCertName: String?
        /// Issue from a CSR with the key of the good `other` certificate instead of a new key.
        var sameKeyCSR = false
        /// A fragment of the one error sentence.
        var fault: String
        var testDescription: String { "\(mode.rawValue)\(servedCertName.map { " (\($0))" } ?? "")" }
    }

    static let cases: [Case] = [
        Case(mode: .malformedJSON, fault: "sent a malformed order object (it is not valid JSON)"),
        Case(mode: .directoryMissing, fault: "is not an ACME directory"),
        Case(mode: .hugeBody, fault: "sent more than 1 MiB in answer to POST"),
        Case(mode: .endlessBody, fault: "sent more than 1 MiB in answer to POST"),
        Case(mode: .endlessHeaders, fault: "sent more than 64 KiB of headers in answer to GET"),
        Case(mode: .redirectLoop, fault: "with a redirect (HTTP 307 to https://127.0.0.1:"),
        Case(mode: .badPEM, fault: "is not a parsable X.509 certificate"),
        // The good certificate of the same names: the CA's signature is real, the key is not ours.
        Case(mode: .servedChain, servedCertName: "example.test", fault: "is for another public key"),
        // A good certificate for other names and the very key of the CSR sent.
        Case(mode: .servedChain, servedCertName: "other", sameKeyCSR: true,
             fault: "is for other.example.test, not for the names ordered (example.test)"),
        Case(mode: .processing, fault: "(still processing); [acme] order_timeout is 4.00s."),
        Case(mode: .pending, fault: "Timed out waiting for the CA to validate example.test; [acme] order_timeout is 4.00s."),
    ]

    /// An unbounded case ends at libcurl's 30 s timeout at the earliest.
    static let bound = Duration.seconds(25)

    @Test(arguments: cases)
    func hostileCALeavesEverythingAsItWas(_ scenario: Case) async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 0))
        defer { lab.stop() }
        let goodConfig = try lab.writeConfig()
        // Two good certificates through plain Pebble: example.test with a key of dns01's, and
        // other.example.test from a CSR whose key the hostile run may use again.
        let key = "\(lab.directory)/csr.key", otherCSR = "\(lab.directory)/other.csr", mainCSR = "\(lab.directory)/main.csr"
        for (path, name) in [(otherCSR, "other.example.test"), (mainCSR, "example.test")] {
            let keyOptions = FileManager.default.fileExists(atPath: key)
                ? ["-key", key] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key]
            let made = try runProcess("/usr/bin/openssl", ["req", "-new"] + keyOptions + [
                "-subj", "/CN=\(name)", "-addext", "subjectAltName=DNS:\(name)", "-out", path])
            try #require(made.status == 0, "openssl: \(made.stderr)")
        }
        let first = try await CLIRunner.run(["issue", "-c", goodConfig, "-d", "example.test"])
        try #require(first.status == 0, "stderr: \(first.stderr)")
        let second = try await CLIRunner.run(["issue", "-c", goodConfig, "--csr", otherCSR, "--cert-name", "other"])
        try #require(second.status == 0, "stderr: \(second.stderr)")
        let state = "\(lab.directory)/state"
        let before = try Self.snapshot(state)

        let served = scenario.servedCertName.map { "\(lab.directory)/served-\($0).pem" }
        if let served, let name = scenario.servedCertName {
            try FileManager.default.copyItem(atPath: "\(state)/live/\(name)/fullchain.pem", toPath: served)
        }
        let hostile = try await HostileCA.start(scenario.mode, in: lab, chainFile: served)
        defer { hostile.stop() }
        let config = try lab.writeConfig("hostile.toml") { text in
            text.replacingOccurrences(of: lab.pebbleDirectory, with: hostile.directoryURL)
                .replacingOccurrences(of: "agree_tos = true", with: "agree_tos = true\norder_timeout = \"4s\"")
        }

        let start = ContinuousClock.now
        let result = try await CLIRunner.run(["issue", "-c", config] + (scenario.sameKeyCSR ? ["--csr", mainCSR] : ["-d", "example.test"]))
        let elapsed = ContinuousClock.now - start

        #expect(result.status == 1, "stderr: \(result.stderr)")
        #expect(elapsed < Self.bound, "took \(elapsed)")
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("dns01: ") }
        #expect(errors.count == 1, "one sentence: \(result.stderr)")
        let sentence = String(errors.first ?? "")
        #expect(sentence.contains(scenario.fault), "\(sentence)")
        #expect(sentence.hasSuffix(".") || sentence.hasSuffix(")"), "\(sentence)")
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
        #expect(try Self.snapshot(state) == before, "live/ or archive/ changed")
        #expect(!hostile.requests.isEmpty, "dns01 went through the hostile CA")
    }

    /// SIGTERM while the CA never answers challenge POSTs: dns01 stops talking to the CA at
    /// once (the 8 transfers in flight aborted, the 2 queued ones never sent), removes the
    /// records and exits within a few seconds, not after libcurl's 30 s timeouts.
    @Test func sigtermWhileTheCAHangsRemovesTheRecordsAtOnce() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 0))
        defer { lab.stop() }
        let hostile = try await HostileCA.start(.hangChallenges, in: lab)
        defer { hostile.stop() }
        let config = try lab.writeConfig { $0.replacingOccurrences(of: lab.pebbleDirectory, with: hostile.directoryURL) }
        let names = (1...CurlTransport.maxConnections + 2).map { "h\($0).example.test" }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLIRunner.executable)
        process.arguments = ["issue", "-c", config] + names.flatMap { ["-d", $0] }
        let stderrPath = "\(lab.directory)/sigterm.stderr"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        // Every handle of the transport is stuck in a challenge POST.
        let challengePosts = { hostile.requests.filter { $0.hasPrefix("POST /chalZ/") }.count }
        let deadline = ContinuousClock.now + .seconds(60)
        while challengePosts() < CurlTransport.maxConnections {
            guard ContinuousClock.now < deadline, process.isRunning else {
                throw LabError("dns01 never answered the challenges: \((try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "")")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try !lab.leftoverChallengeValues(names).isEmpty, "the records are up while the CA hangs")

        let signalled = ContinuousClock.now
        kill(process.processIdentifier, SIGTERM)
        while process.isRunning {
            guard ContinuousClock.now - signalled < .seconds(40) else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let elapsed = ContinuousClock.now - signalled
        let stderr = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        #expect(elapsed < .seconds(5), "exited \(elapsed) after SIGTERM: \(stderr)")
        #expect(!process.isRunning)
        if !process.isRunning { #expect(process.terminationStatus == 1, "\(stderr)") }
        #expect(try lab.leftoverChallengeValues(names).isEmpty)
        #expect(challengePosts() == CurlTransport.maxConnections, "no queued challenge POST sent after the signal: \(hostile.requests)")
        #expect(stderr.contains("Stopped by a signal"), "\(stderr)")
    }

    /// Every file and symlink under `live/` and `archive/` of a state directory, with its bytes
    /// or its target.
    static func snapshot(_ state: String) throws -> [String: Data] {
        var result: [String: Data] = [:]
        let manager = FileManager.default
        for top in ["live", "archive"] {
            let root = "\(state)/\(top)"
            guard let enumerator = manager.enumerator(atPath: root) else { continue }
            while let relative = enumerator.nextObject() as? String {
                let path = "\(root)/\(relative)"
                let attributes = try manager.attributesOfItem(atPath: path)
                switch attributes[.type] as? FileAttributeType {
                case .typeSymbolicLink?:
                    result["\(top)/\(relative) ->"] = Data(try manager.destinationOfSymbolicLink(atPath: path).utf8)
                case .typeRegular?:
                    result["\(top)/\(relative)"] = try Data(contentsOf: URL(fileURLWithPath: path))
                default:
                    result["\(top)/\(relative)/"] = Data()
                }
            }
        }
        return result
    }
}
