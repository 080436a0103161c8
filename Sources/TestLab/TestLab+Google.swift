import Foundation

extension TestLab {
    /// The Google Cloud DNS stand-in (Tests/Support/google-api.py), started for this lab.
    public struct GoogleAPI: Sendable {
        /// The Cloud DNS v1 base URL, as `api_url` takes it.
        public var baseURL: String
        /// A 0600 service account key file (a fresh RSA key, `token_uri` the stand-in's), the one
        /// account whose JWTs it takes.
        public var keyFile: String
        /// The key's project.
        public var project: String
        var port: UInt16
        /// The port of its API and token endpoint.
        public var tokenPort: UInt16 { port }

        /// Requests served so far, by method and path shape ("POST /dns/v1/projects/{project}/managedZones/{zone}/changes").
        public func requests() throws -> [String: Int] {
            try TestLab.requestCounts(at: "http://127.0.0.1:\(port)")
        }

        /// Answers the next `count` API requests with HTTP `status` and the vendor's error shape
        /// holding `message` (any text: hostile, huge).
        public func fail(_ count: Int, status: Int = 400, message: String) throws {
            let body: [String: Any] = ["count": count, "status": status, "message": message]
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("fail-\(UUID().uuidString.prefix(8)).json").path
            try JSONSerialization.data(withJSONObject: body).write(to: URL(fileURLWithPath: file))
            defer { try? FileManager.default.removeItem(atPath: file) }
            let result = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "-X", "POST", "--data-binary", "@\(file)",
                                                          "http://127.0.0.1:\(port)/__lab/fail"])
            guard result.output.contains("\"fail\"") else { throw LabError("the stand-in refused /__lab/fail: \(result.output)") }
        }

        /// Answers the next `count` requests (the token endpoint's too) with HTTP 429.
        public func throttle(_ count: Int) throws {
            _ = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "-X", "POST", "-d", "{\"count\": \(count)}",
                                                 "http://127.0.0.1:\(port)/__lab/throttle"])
        }

        /// A key file for the same account and token URI but another private key: what a
        /// revoked or wrong key looks like to the token endpoint.
        public func writeWrongKey(to path: String) throws {
            let key = try runCommand("/usr/bin/openssl", ["genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]).output
            let data = try Data(contentsOf: URL(fileURLWithPath: keyFile))
            guard var object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw LabError("\(keyFile) is not JSON") }
            object["private_key"] = key
            object["private_key_id"] = "0000000000000000000000000000000000000000"
            let text = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted]), as: UTF8.self)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        }
    }

    /// Starts the stand-in for the lab's update zones (managed zone names: the zone with dots as
    /// hyphens, "example-test"); it writes every change into the primary with RFC 2136, so
    /// propagation and validation stay real.
    public func startGoogleAPI(project: String = "dns01-lab", zones: [String]? = nil, pageSize: Int = 50) async throws -> GoogleAPI {
        let dir = "\(directory)/google"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let port = try FreePort.find(on: ["127.0.0.1"])
        let privateKey = try runCommand("/usr/bin/openssl", ["genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]).output
        let key: [String: Any] = [
            "type": "service_account", "project_id": project, "private_key_id": "1f2e3d4c5b6a798877665544332211aabbccddee",
            "private_key": privateKey, "client_email": "dns01@\(project).iam.gserviceaccount.com", "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "http://127.0.0.1:\(port)/token",
        ]
        let keyFile = "\(dir)/service-account.json"
        try write(String(decoding: try JSONSerialization.data(withJSONObject: key, options: [.prettyPrinted]), as: UTF8.self),
                  to: keyFile, mode: 0o600)
        let script = "\(Self.supportDirectory)/google-api.py"
        processes.append(try LabProcess(name: "google-api", executable: "/usr/bin/python3",
                                        arguments: [script, "--port", "\(port)", "--key-file", keyFile, "--page-size", "\(pageSize)",
                                                    "--primary", primary, "--tsig-key-file", tsigKeyFile]
                                            + (zones ?? options.zones).flatMap { ["--zone", $0] },
                                        directory: dir))
        try await poll(until: Date().addingTimeInterval(30), "the Google Cloud DNS stand-in on port \(port)") {
            try runCommand("/usr/bin/curl", ["-s", "--max-time", "1", "http://127.0.0.1:\(port)/__lab/stats"]).output.contains("requests")
        }
        return GoogleAPI(baseURL: "http://127.0.0.1:\(port)/dns/v1", keyFile: keyFile, project: project, port: port)
    }
}
