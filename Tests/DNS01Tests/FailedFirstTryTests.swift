import Files
import Foundation
import Testing
import TestLab

/// Issue 27 item 4: a `dns01 issue` that failed before the CA took the account leaves no state
/// (no account key, no lock file), and the package's purge says what it actually keeps.
@Suite("a failed first try leaves no state")
struct FailedFirstTryTests {
    /// Every file (not directory) under `root`, relative to it.
    static func files(under root: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var found: [String] = []
        while let relative = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: "\(root)/\(relative)", isDirectory: &isDirectory), !isDirectory.boolValue {
                found.append(relative)
            }
        }
        return found.sorted()
    }

    @Test func unreachableCALeavesNoKeyAndNoLock() async throws {
        try await BadInputTests.withTempConfig(BadInputTests.unreachableCAConfig) { config in
            let state = (config as NSString).deletingLastPathComponent + "/state"
            let result = try await CLIRunner.run(["issue", "-c", config, "-d", "example.test"])
            #expect(result.status == 1, "stderr: \(result.stderr)")
            #expect(result.stderr.contains("Cannot reach the CA at 127.0.0.1:9"), "stderr: \(result.stderr)")
            #expect(FileManager.default.fileExists(atPath: "\(state)/locks"), "the run got as far as the lock")
            #expect(Self.files(under: state) == [], "left behind: \(Self.files(under: state))")
        }
    }

    /// The CA answered, and said no (its terms not agreed to): no key either.
    @Test func refusedAccountLeavesNoKey() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 0))
        defer { lab.stop() }
        let config = try lab.writeConfig { $0.replacingOccurrences(of: "agree_tos = true", with: "agree_tos = false") }
        let state = "\(lab.directory)/state"
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "www.example.test"])
        #expect(result.status == 2, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("set agree_tos = true"), "stderr: \(result.stderr)")
        #expect(Self.files(under: state) == [], "left behind: \(Self.files(under: state))")
        // Once the CA takes it, the key stays (and the lock file goes with the run).
        let agreed = try lab.writeConfig("agreed.toml")
        let issued = try await CLIRunner.run(["issue", "-c", agreed, "-d", "www.example.test", "--no-renew"])
        #expect(issued.status == 0, "stderr: \(issued.stderr)")
        let left = Self.files(under: state)
        #expect(left.contains { $0.hasPrefix("accounts/") && $0.hasSuffix("/account.key") }, "\(left)")
        #expect(!left.contains { $0.hasPrefix("locks/") }, "\(left)")
    }

    /// A released certificate lock takes its file along; a held one still refuses a second taker.
    @Test func releasedLockFileIsRemoved() throws {
        let directory = NSTemporaryDirectory() + "dns01-lock-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/web.lock"
        let first = try #require(try FileLock.attempt(path: path))
        #expect(try FileLock.attempt(path: path) == nil)
        first.unlock(removingFile: true)
        #expect(!FileManager.default.fileExists(atPath: path))
        let second = try #require(try FileLock.attempt(path: path))
        #expect(FileManager.default.fileExists(atPath: path))
        second.unlock()
        #expect(FileManager.default.fileExists(atPath: path), "a plain unlock keeps the file")
    }

    /// The package's postrm on purge, run against a directory of this test's (its paths
    /// rewritten): lock files alone go with the directory; otherwise it names what it keeps.
    @Test(arguments: [
        ([String](), nil as String?),
        (["locks/web.lock"], nil),
        (["locks/web.lock", "accounts/ca/account.key", "live/web/cert.pem", "history/web.json"],
         "dns01: keeping ROOT, which holds ACME account keys (accounts/), certificates and their keys (live/), run history (history/); remove it by hand if unused"),
        (["stray"], "dns01: keeping ROOT, which holds files dns01 did not make; remove it by hand if unused"),
    ])
    func purgeSaysWhatItKeeps(_ files: [String], _ message: String?) throws {
        let base = NSTemporaryDirectory() + "dns01-purge-\(UUID().uuidString)"
        let root = "\(base)/var-lib-dns01"
        defer { try? FileManager.default.removeItem(atPath: base) }
        for directory in ["locks", "accounts/ca", "live/web", "history"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(directory)", withIntermediateDirectories: true)
        }
        for file in files { try "x".write(toFile: "\(root)/\(file)", atomically: false, encoding: .utf8) }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = try String(contentsOf: package.appendingPathComponent("packaging/postrm"), encoding: .utf8)
            .replacingOccurrences(of: "/var/lib/dns01", with: root)
            .replacingOccurrences(of: "/usr/bin/deb-systemd-helper", with: "/nonexistent/deb-systemd-helper")
        let path = "\(base)/postrm"
        try script.write(toFile: path, atomically: false, encoding: .utf8)
        let result = try runProcess("/bin/sh", [path, "purge"])
        #expect(result.status == 0, "\(result.stderr)")
        if let message {
            #expect(result.stderr == message.replacingOccurrences(of: "ROOT", with: root) + "\n", "\(result.stderr)")
            #expect(FileManager.default.fileExists(atPath: root))
        } else {
            #expect(result.stderr.isEmpty, "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: root))
        }
    }
}
