@testable import DNS01
import Foundation
import Providers
import Testing
import TestLab

/// The journal and the state directory end to end: the `dns01` binary against the lab's BIND
/// (and Pebble where a certificate is ordered), killed, signalled, refused, and run as certbot's
/// hooks in separate processes.
@Suite("journal and state directory", .serialized)
struct JournalIntegrationTests {
    static let value = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

    /// A config for a lab without Pebble (no CA bundle to read).
    static func configWithoutCA(_ lab: TestLab, edit: (String) -> String = { $0 }) throws -> String {
        try lab.writeConfig { edit($0.replacingOccurrences(of: "ca_bundle = \"\(lab.pebbleCAFile)\"\n", with: "")) }
    }

    static func journalEntries(_ lab: TestLab) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "\(lab.directory)/state/journal")) ?? []).filter { $0.hasSuffix(".json") }
    }

    /// Starts dns01 in the background with stderr to a file; returns once `name` has `count`
    /// values at the primary.
    static func start(_ arguments: [String], lab: TestLab, name: String, count: Int) async throws -> (Process, String) {
        let log = "\(lab.directory)/dns01-\(UInt32.random(in: 0...UInt32.max)).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLIRunner.executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while try lab.txtValues(name, at: lab.primary).count < count {
            guard Date() < deadline, process.isRunning else { throw LabError("records never appeared at \(name)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        return (process, log)
    }

    // MARK: Item 1: `dns01 issue` takes the certificate lock

    @Test func issueRefusesACertificateAnotherProcessHolds() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let config = try Self.configWithoutCA(lab)
        try FileSystem.createDirectory("\(lab.directory)/state/locks")
        let lockPath = "\(lab.directory)/state/locks/www.example.test.lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        try #require(fd >= 0 && flock(fd, LOCK_EX) == 0)
        defer { close(fd) }
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "www.example.test"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("Another dns01 process is working on certificate www.example.test"), "\(result.stderr)")
    }
}
