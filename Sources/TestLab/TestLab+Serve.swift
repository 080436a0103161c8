import Foundation

extension TestLab {
    /// A `dns01 serve` the lab started: its base URL and its log.
    public struct ServeProcess: Sendable {
        public var baseURL: String
        public var port: UInt16
        public var log: String
        public var pid: Int32
    }

    /// Starts `dns01 serve -c config` (the binary at `executable`) on a free loopback port written
    /// into `[serve] listen` by `configText(port)`, stopped with the lab; returns once /health answers.
    public func startServe(executable: String, name: String = "dns01-serve", configText: (UInt16) -> String) async throws -> ServeProcess {
        let port = try FreePort.find(on: ["127.0.0.1"])
        let dir = "\(directory)/\(name)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let config = "\(dir)/dns01.toml"
        try write(configText(port), to: config, mode: 0o600)
        let process = try LabProcess(name: name, executable: executable, arguments: ["serve", "-c", config], directory: dir)
        processes.append(process)
        try await poll(until: Date().addingTimeInterval(30), "dns01 serve on port \(port)") {
            guard process.isRunning else { throw LabError("dns01 serve exited: \((try? String(contentsOfFile: "\(dir)/\(name).log", encoding: .utf8)) ?? "")") }
            return try runCommand("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "1", "http://127.0.0.1:\(port)/health"]).output == "200"
        }
        return ServeProcess(baseURL: "http://127.0.0.1:\(port)", port: port, log: "\(dir)/\(name).log", pid: process.pid)
    }
}
