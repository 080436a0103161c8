import Foundation

extension TestLab {
    /// A DNS host API stand-in (Tests/Support/<kind>-api.py, built on standin.py), started for
    /// this lab: DigitalOcean, Hetzner, deSEC, Gandi, OVH.
    public struct HostAPI: Sendable {
        /// The stand-in's name: "digitalocean", "hetzner", "desec", "gandi", "ovh".
        public var kind: String
        /// The API's base URL, as the provider's `api_url` takes it.
        public var baseURL: String
        /// A 0600 file holding the one credential it accepts.
        public var tokenFile: String
        /// The credential itself.
        public var token: String
        var port: UInt16
        var directory: String

        /// Requests served so far, by method and path shape ("POST /v2/domains/example.test/records").
        public func requests() throws -> [String: Int] {
            try TestLab.requestCounts(at: "http://127.0.0.1:\(port)")
        }

        /// The TXT values the stand-in holds (in its API, whatever BIND serves).
        public func records() throws -> Int {
            let result = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "http://127.0.0.1:\(port)/__lab/stats"])
            guard let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any],
                  let records = object["records"] as? Int else {
                throw LabError("the \(kind) stand-in's /__lab/stats gave no record count: \(result.output)")
            }
            return records
        }

        /// All requests served so far.
        public func totalRequests() throws -> Int {
            try requests().values.reduce(0, +)
        }

        /// Answers the next `count` API requests with the vendor's 429 and Retry-After: 1.
        public func throttle(_ count: Int) throws {
            try control("throttle", body: ["count": count], expect: "\"throttle\"")
        }

        /// Answers the next `count` API requests with HTTP `status` and `body` (a vendor error
        /// shape holding any text).
        public func fail(_ count: Int, status: Int, body: [String: Any]) throws {
            try control("fail", body: ["count": count, "status": status, "body": body], expect: "\"fail\"")
        }

        private func control(_ name: String, body: [String: Any], expect: String) throws {
            let file = "\(directory)/\(name)-\(UUID().uuidString.prefix(8)).json"
            try JSONSerialization.data(withJSONObject: body).write(to: URL(fileURLWithPath: file))
            defer { try? FileManager.default.removeItem(atPath: file) }
            let result = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "-X", "POST", "--data-binary", "@\(file)",
                                                          "http://127.0.0.1:\(port)/__lab/\(name)"])
            guard result.output.contains(expect) else { throw LabError("the \(kind) stand-in refused /__lab/\(name): \(result.output)") }
        }
    }

    /// Starts Tests/Support/`kind`-api.py for the lab's zones (or `zones`); `basePath` is what
    /// follows host and port in the API's base URL ("/v2"). It writes every record into the
    /// primary with RFC 2136, so propagation and validation stay real.
    public func startHostAPI(_ kind: String, basePath: String, token: String? = nil, zones: [String]? = nil) async throws -> HostAPI {
        let dir = "\(directory)/\(kind)-api"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let token = token ?? "lab-\(kind)-token-\(UUID().uuidString.prefix(8))"
        let tokenFile = "\(dir)/token"
        try write(token + "\n", to: tokenFile, mode: 0o600)
        let port = try FreePort.find(on: ["127.0.0.1"])
        processes.append(try LabProcess(name: "\(kind)-api", executable: "/usr/bin/python3",
                                        arguments: ["\(Self.supportDirectory)/\(kind)-api.py", "--port", "\(port)", "--token-file", tokenFile,
                                                    "--primary", primary, "--tsig-key-file", tsigKeyFile]
                                            + (zones ?? options.zones).flatMap { ["--zone", $0] },
                                        directory: dir))
        try await poll(until: Date().addingTimeInterval(30), "the \(kind) stand-in on port \(port)") {
            try runCommand("/usr/bin/curl", ["-s", "--max-time", "1", "http://127.0.0.1:\(port)/__lab/stats"]).output.contains("requests")
        }
        return HostAPI(kind: kind, baseURL: "http://127.0.0.1:\(port)\(basePath)", tokenFile: tokenFile, token: token, port: port, directory: dir)
    }
}
