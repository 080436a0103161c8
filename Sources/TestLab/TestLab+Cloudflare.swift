import Foundation

extension TestLab {
    /// Where the test support's scripts live (Tests/Support of this repository).
    static var supportDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tests/Support").path
    }

    /// The Cloudflare API stand-in (Tests/Support/cloudflare-api.py), started for this lab.
    public struct CloudflareAPI: Sendable {
        /// The v4 base URL, as `api_url` takes it.
        public var baseURL: String
        /// A 0600 file holding the one token it accepts.
        public var tokenFile: String
        var port: UInt16

        /// Requests served so far, by method and path shape ("POST /client/v4/zones/{id}/dns_records/batch").
        public func requests() throws -> [String: Int] {
            try TestLab.requestCounts(at: "http://127.0.0.1:\(port)")
        }

        /// Answers the next `count` API requests with HTTP 429.
        public func throttle(_ count: Int) throws {
            _ = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "-X", "POST", "-d", "{\"count\": \(count)}",
                                                 "http://127.0.0.1:\(port)/__lab/throttle"])
        }

        /// Answers the next `count` API requests with HTTP `status` and Cloudflare's error
        /// envelope holding `errors` (any message: hostile, huge).
        public func fail(_ count: Int, status: Int = 400, errors: [(code: Int, message: String)]) throws {
            let body: [String: Any] = ["count": count, "status": status,
                                       "errors": errors.map { ["code": $0.code, "message": $0.message] as [String: Any] }]
            let file = URL(fileURLWithPath: tokenFile).deletingLastPathComponent().appendingPathComponent("fail-\(UUID().uuidString.prefix(8)).json").path
            try JSONSerialization.data(withJSONObject: body).write(to: URL(fileURLWithPath: file))
            defer { try? FileManager.default.removeItem(atPath: file) }
            let result = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "-X", "POST", "--data-binary", "@\(file)",
                                                          "http://127.0.0.1:\(port)/__lab/fail"])
            guard result.output.contains("\"fail\"") else { throw LabError("the Cloudflare stand-in refused /__lab/fail: \(result.output)") }
        }
    }

    /// The request counts a stand-in keeps at URL/__lab/stats (outside the API it stands in for).
    static func requestCounts(at base: String) throws -> [String: Int] {
        let result = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "\(base)/__lab/stats"])
        guard let data = result.output.data(using: .utf8),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let requests = object["requests"] as? [String: Int] else {
            throw LabError("\(base)/__lab/stats gave no request counts: \(result.output)")
        }
        return requests
    }

    /// Starts the stand-in for the lab's update zones; it writes every record it is given into
    /// the primary with RFC 2136, so propagation and validation stay real.
    public func startCloudflareAPI(token: String = "lab-cloudflare-token-\(UUID().uuidString.prefix(8))",
                                   zones: [String]? = nil) async throws -> CloudflareAPI {
        let dir = "\(directory)/cloudflare"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tokenFile = "\(dir)/token"
        try write(token + "\n", to: tokenFile, mode: 0o600)
        let port = try FreePort.find(on: ["127.0.0.1"])
        let script = "\(Self.supportDirectory)/cloudflare-api.py"
        processes.append(try LabProcess(name: "cloudflare-api", executable: "/usr/bin/python3",
                                        arguments: [script, "--port", "\(port)", "--token-file", tokenFile,
                                                    "--primary", primary, "--tsig-key-file", tsigKeyFile]
                                            + (zones ?? options.zones).flatMap { ["--zone", $0] },
                                        directory: dir))
        try await poll(until: Date().addingTimeInterval(30), "the Cloudflare stand-in on port \(port)") {
            try runCommand("/usr/bin/curl", ["-s", "--max-time", "1", "http://127.0.0.1:\(port)/__lab/stats"]).output.contains("requests")
        }
        return CloudflareAPI(baseURL: "http://127.0.0.1:\(port)/client/v4", tokenFile: tokenFile, port: port)
    }
}
