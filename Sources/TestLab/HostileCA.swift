import Foundation

/// A deliberately misbehaving CA for tests about a hostile peer: Tests/Support/hostile-ca.py,
/// an HTTPS proxy in front of a lab's Pebble that breaks one thing (`Mode`) and passes the rest
/// through. It listens on a free loopback port with Pebble's TLS certificate (so the lab's
/// `ca_bundle` trusts it) and is stopped by pid.
public final class HostileCA: @unchecked Sendable {
    /// What the proxy breaks; the raw values are the script's `--mode`.
    public enum Mode: String, Sendable, CaseIterable {
        case malformedJSON = "malformed-json"
        case directoryMissing = "directory-missing"
        case hugeBody = "huge-body"
        case endlessHeaders = "endless-headers"
        case endlessBody = "endless-body"
        case redirectLoop = "redirect-loop"
        case badPEM = "bad-pem"
        /// The certificate URL serves the file given as `chainFile`.
        case servedChain = "served-chain"
        case processing
        case pending
        case hangChallenges = "hang-challenges"
    }

    public let mode: Mode
    public let port: UInt16
    private let process: LabProcess
    private let logFile: String

    public var directoryURL: String { "https://127.0.0.1:\(port)/dir" }

    private init(mode: Mode, port: UInt16, process: LabProcess, logFile: String) {
        self.mode = mode
        self.port = port
        self.process = process
        self.logFile = logFile
    }

    /// The script in the source tree, next to the tests.
    public static var defaultScript: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tests/Support/hostile-ca.py").path
    }

    /// Starts the proxy in front of `lab`'s Pebble; returns once its port is bound.
    public static func start(_ mode: Mode, in lab: TestLab, chainFile: String? = nil,
                             script: String = HostileCA.defaultScript) async throws -> HostileCA {
        guard let python = which("python3") else { throw LabError("python3 is not installed") }
        guard lab.pebblePort != 0 else { throw LabError("the lab runs no Pebble to put a hostile CA in front of") }
        let directory = "\(lab.directory)/hostile-\(mode.rawValue)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let port = try FreePort.find(on: ["127.0.0.1"])
        let ready = "\(directory)/ready", log = "\(directory)/requests.log"
        var arguments = [script, "--port", String(port), "--upstream", String(lab.pebblePort),
                         "--cert", lab.pebbleCAFile, "--key", "\(lab.directory)/pebble/key.pem",
                         "--mode", mode.rawValue, "--log", log, "--ready", ready]
        if let chainFile { arguments += ["--chain", chainFile] }
        let process = try LabProcess(name: "hostile-ca", executable: python, arguments: arguments, directory: directory)
        let ca = HostileCA(mode: mode, port: port, process: process, logFile: log)
        let deadline = ContinuousClock.now + .seconds(20)
        while !FileManager.default.fileExists(atPath: ready) {
            guard process.isRunning else {
                let output = (try? String(contentsOfFile: "\(directory)/hostile-ca.log", encoding: .utf8)) ?? ""
                throw LabError("the hostile CA exited at start: \(output)")
            }
            guard ContinuousClock.now < deadline else {
                ca.stop()
                throw LabError("the hostile CA did not bind 127.0.0.1:\(port) within 20 s")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return ca
    }

    /// Every request received so far, as "METHOD PATH", in order.
    public var requests: [String] {
        ((try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    public var pid: Int32 { process.pid }

    /// SIGTERM, then SIGKILL after 5 s; safe to call twice.
    public func stop() { process.stop() }

    deinit { stop() }
}
