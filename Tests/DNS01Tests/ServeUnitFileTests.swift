import Foundation
import Testing

/// packaging/dns01-serve.service: systemd knows every directive, and its sandbox rates at most
/// 2.5 in `systemd-analyze security` (no capabilities, no W^X exceptions: serve runs no JIT).
@Suite("dns01-serve.service") struct ServeUnitFileTests {
    static let unit = "dns01-serve.service"

    @Test func exposureIsLow() async throws {
        let analyze = try #require(ServiceUnitTests.systemdAnalyze, "systemd-analyze is missing (package systemd)")
        let result = try await runProcessOffPool(analyze, ["security", "--offline=yes", "--no-pager",
                                                           DocSnippetTests.repository + "/packaging/" + Self.unit])
        let output = result.stdout + result.stderr
        let level = try #require(output.firstMatch(of: /Overall exposure level for [^:]+: ([0-9]+\.[0-9])/), "\(output)")
        let exposure = try #require(Double(String(level.1)))
        #expect(exposure <= 2.5, "\(Self.unit) rates \(exposure)")
    }

    /// `systemctl reload dns01-serve` (a renewal's deploy hook) sends SIGHUP: serve reads its
    /// TLS certificate and key again.
    @Test func reloadSendsHangup() throws {
        let text = try ServiceUnitTests.unitText(Self.unit)
        #expect(text.components(separatedBy: "\n").contains("ExecReload=/bin/kill -HUP $MAINPID"))
    }

    @Test func verifiesCleanly() async throws {
        let analyze = try #require(ServiceUnitTests.systemdAnalyze)
        let directory = FileManager.default.temporaryDirectory.path + "/dns01-unit-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let text = try ServiceUnitTests.unitText(Self.unit).replacingOccurrences(of: "/usr/bin/dns01", with: CLIRunner.executable)
        try text.write(toFile: "\(directory)/\(Self.unit)", atomically: true, encoding: .utf8)
        let result = try await runProcessOffPool(analyze, ["verify", "--man=no", "\(directory)/\(Self.unit)"])
        #expect(result.status == 0 && result.stderr.isEmpty, "systemd-analyze verify: \(result.stderr)")
    }
}
