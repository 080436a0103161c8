import Foundation

extension TestLab {
    /// A `dns01 serve` the lab started: its base URL and its log.
    public struct ServeProcess: Sendable {
        public var baseURL: String
        public var port: UInt16
        public var log: String
        public var pid: Int32
        /// The CA file that verifies its certificate when it serves HTTPS (nil: plain HTTP).
        public var caFile: String? = nil
    }

    /// Starts `dns01 serve -c config` (the binary at `executable`) on a free loopback port written
    /// into `[serve] listen` by `configText(port)`, stopped with the lab; returns once /health answers.
    /// `caFile`: it serves HTTPS with a certificate for 127.0.0.1 that this CA file verifies.
    public func startServe(executable: String, name: String = "dns01-serve", caFile: String? = nil,
                           configText: (UInt16) -> String) async throws -> ServeProcess {
        let port = try FreePort.find(on: ["127.0.0.1"])
        let baseURL = "\(caFile == nil ? "http" : "https")://127.0.0.1:\(port)"
        let dir = "\(directory)/\(name)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let config = "\(dir)/dns01.toml"
        try write(configText(port), to: config, mode: 0o600)
        let process = try LabProcess(name: name, executable: executable, arguments: ["serve", "-c", config], directory: dir)
        processes.append(process)
        try await poll(until: Date().addingTimeInterval(30), "dns01 serve on port \(port)") {
            guard process.isRunning else { throw LabError("dns01 serve exited: \((try? String(contentsOfFile: "\(dir)/\(name).log", encoding: .utf8)) ?? "")") }
            return try runCommand("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "1"]
                                  + (caFile.map { ["--cacert", $0] } ?? []) + ["\(baseURL)/health"]).output == "200"
        }
        return ServeProcess(baseURL: baseURL, port: port, log: "\(dir)/\(name).log", pid: process.pid, caFile: caFile)
    }
}
