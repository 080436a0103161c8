@testable import DNS01
import Foundation
import Testing
import TestLab

/// The hardening issue §16: the packaged units' sandbox, rated by systemd's own
/// `systemd-analyze security` (offline: no service manager needed) and checked by
/// `systemd-analyze verify`; the start timeout the units give a run, and how `dns01 run`
/// extends it (sd_notify `EXTEND_TIMEOUT_USEC`) to its config's own bounds; and that dns01's
/// directories keep their modes under the units' `UMask=0027`.
@Suite("service units") struct ServiceUnitTests {
    static let units = ["dns01.service", "dns01-sync.service"]

    static func unitText(_ unit: String) throws -> String {
        try String(contentsOfFile: DocSnippetTests.repository + "/packaging/" + unit, encoding: .utf8)
    }

    static var systemdAnalyze: String? {
        ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test(arguments: units)
    func exposureIsAtMostFour(_ unit: String) async throws {
        let analyze = try #require(Self.systemdAnalyze, "systemd-analyze is missing (package systemd)")
        let result = try await runProcessOffPool(analyze, ["security", "--offline=yes", "--no-pager",
                                              DocSnippetTests.repository + "/packaging/" + unit])
        let output = result.stdout + result.stderr
        let level = try #require(output.firstMatch(of: /Overall exposure level for [^:]+: ([0-9]+\.[0-9])/), "\(output)")
        let exposure = try #require(Double(String(level.1)))
        #expect(exposure <= 4.0, "\(unit) rates \(exposure): \(output.split(separator: "\n").filter { $0.hasPrefix("✗") }.joined(separator: "\n"))")
    }

    /// Every directive is one this systemd knows, spelled as it expects (verify warns about an
    /// unknown key or a bad value and otherwise ignores it: a typo would quietly drop a fence).
    @Test(arguments: units)
    func unitVerifiesCleanly(_ unit: String) async throws {
        let analyze = try #require(Self.systemdAnalyze)
        let directory = FileManager.default.temporaryDirectory.path + "/dns01-unit-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // ExecStart must name an existing program for verify; the built dns01 stands in for /usr/bin's.
        let text = try Self.unitText(unit).replacingOccurrences(of: "/usr/bin/dns01", with: CLIRunner.executable)
        try text.write(toFile: "\(directory)/\(unit)", atomically: true, encoding: .utf8)
        let result = try await runProcessOffPool(analyze, ["verify", "--man=no", "\(directory)/\(unit)"])
        #expect(result.status == 0 && result.stderr.isEmpty, "systemd-analyze verify \(unit): \(result.stderr)")
    }

    static func startTimeout(_ unit: String) throws -> Duration {
        let text = try unitText(unit)
        let match = try #require(text.firstMatch(of: /(?m)^TimeoutStartSec=([0-9]+)min$/), "\(unit) has no TimeoutStartSec=Nmin")
        return .seconds(try #require(Int(String(match.1))) * 60)
    }

    /// The shipped config, with every example switched on (a provider of each kind, a certificate
    /// with a deploy hook), fits in the units' start timeout.
    @Test(arguments: units)
    func startTimeoutCoversTheShippedConfigsBounds(_ unit: String) throws {
        let sandbox = try DocSnippetTests.Sandbox()
        defer { sandbox.remove() }
        let text = try String(contentsOfFile: PackagingTests.exampleConfig, encoding: .utf8)
        let switchedOn = PackagingTests.switchedOn(text)
        let configuration = try Configuration.parse(try sandbox.materialize(switchedOn), path: "packaging/dns01.toml")
        #expect(!configuration.certificates.isEmpty && configuration.certificates.allSatisfy { $0.deployHook != nil })
        #expect(configuration.runTimeBound <= (try Self.startTimeout(unit)),
                "\(unit): TimeoutStartSec is below the shipped config's run bound \(configuration.runTimeBound)")
    }

    @Test func runTimeBoundAddsEveryPhase() throws {
        let text = """
        [acme]
        directory = "https://127.0.0.1:9/directory"
        state_dir = "/tmp/dns01-bound-state"
        order_timeout = "10m"

        [dns]
        propagation_timeout = "20m"

        [[provider]]
        name = "one"
        type = "shell"
        zones = ["example.test"]
        command = "/bin/true"
        single_value = true

        [notify]
        command = "/bin/true"
        timeout = "30s"

        [[certificate]]
        name = "a"
        domains = ["a.example.test"]
        deploy_hook = "/bin/true"

        [[certificate]]
        name = "b"
        domains = ["b.example.test"]
        """
        let configuration = try Configuration.parse(text, path: "bound.toml")
        // order + 2 rounds of propagation (single_value) + present and cleanup + one deploy hook
        // + a notification per certificate and one for the run + a minute.
        let seconds: Int = 600 + 2 * 1200 + 2 * 300 + 300 + 3 * 30 + 60
        let expected = Duration.seconds(seconds)
        #expect(configuration.runTimeBound == expected)
    }

    /// A `dns01 run` under a unit (NOTIFY_SOCKET set) tells the service manager its config's
    /// bound before anything else: here the CA does not even answer, and the message came.
    @Test func runSendsItsBoundToTheServiceManager() async throws {
        let directory = FileManager.default.temporaryDirectory.path + "/dns01-notify-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socketPath = "\(directory)/notify"
        let fd = try NotifySocket.bind(socketPath)
        defer { close(fd) }
        let closedPort = try FreePort.find(on: ["127.0.0.1"])
        let config = "\(directory)/dns01.toml"
        try """
        [acme]
        directory = "https://127.0.0.1:\(closedPort)/directory"
        agree_tos = true
        state_dir = "\(directory)/state"
        order_timeout = "2h"

        [[provider]]
        name = "hook"
        type = "shell"
        zones = ["example.test"]
        command = "/bin/true"

        [[certificate]]
        name = "a"
        domains = ["a.example.test"]
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let result = try await CLIRunner.run(["run", "-c", config], environment: ["NOTIFY_SOCKET": socketPath])
        #expect(result.status == 1, "stderr: \(result.stderr)")
        let bound = try Configuration.parse(try String(contentsOfFile: config, encoding: .utf8), path: config).runTimeBound
        #expect(NotifySocket.receive(fd) == "EXTEND_TIMEOUT_USEC=\(bound.components.seconds * 1_000_000)")
        #expect(bound > .seconds(2 * 3600))
    }

    /// Under the units' UMask=0027, live/ and each version directory stay 0755 (dns01 sets its
    /// directories' modes exactly, as it does its files'), so a web server that reads the
    /// certificate as another user still can.
    @Test func directoriesKeepTheirModesUnderTheUnitsUmask() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 0))
        defer { lab.stop() }
        let config = try lab.writeConfig()
        let result = try await runProcessOffPool("/bin/sh", ["-c", "umask 027; exec \"$0\" \"$@\"", CLIRunner.executable,
                                                "issue", "-c", config, "-d", "umask.example.test"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let state = "\(lab.directory)/state"
        let version = try FileManager.default.destinationOfSymbolicLink(atPath: "\(state)/live/umask.example.test")
        let versionPath = version.hasPrefix("/") ? version : "\(state)/live/\(version)"
        for (path, mode) in [("\(state)/live", 0o755), (versionPath, 0o755), ("\(versionPath)/privkey.pem", 0o600)] {
            let actual = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(actual == mode, "\(path) is \(String(actual ?? -1, radix: 8)), not \(String(mode, radix: 8))")
        }
    }
}

/// The receiving end of sd_notify, as systemd's: a datagram socket at a path.
enum NotifySocket {
    static func bind(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { close(fd); throw POSIXError(.ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard status == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        return fd
    }

    /// The datagram waiting on `fd`, if any (the sender has exited: no wait needed).
    static func receive(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}
