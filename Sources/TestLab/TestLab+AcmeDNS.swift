import Foundation

extension TestLab {
    /// The acme-dns stand-in (Tests/Support/acme-dns-api.py), started for this lab.
    public struct AcmeDNSAPI: Sendable {
        /// The API's base, as `api_base` takes it.
        public var baseURL: String
        /// The zone its subdomains live in (acme-dns's `general.domain`).
        public var zone: String
        var port: UInt16

        /// `POST /register`, as a user does once per domain: the registration's JSON object.
        public func register() throws -> [String: Any] {
            let result = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "-X", "POST", "\(baseURL)/register"])
            guard let object = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any],
                  object["fulldomain"] is String else {
                throw LabError("the acme-dns stand-in did not register: \(result.output)")
            }
            return object
        }

        /// Requests served so far, by "METHOD /path".
        public func requests() throws -> [String: Int] {
            try TestLab.requestCounts(at: baseURL)
        }

        /// Answers the next `count` API requests with HTTP 503 and Retry-After: 1.
        public func throttle(_ count: Int) throws {
            _ = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "-X", "POST", "-d", "{\"count\": \(count)}", "\(baseURL)/__lab/throttle"])
        }
    }

    /// Starts the stand-in for `zone` (one of the lab's update zones); it writes each
    /// subdomain's two values into the primary with RFC 2136.
    public func startAcmeDNS(zone: String) async throws -> AcmeDNSAPI {
        let dir = "\(directory)/acme-dns"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let port = try FreePort.find(on: ["127.0.0.1"])
        processes.append(try LabProcess(name: "acme-dns-api", executable: "/usr/bin/python3",
                                        arguments: ["\(Self.supportDirectory)/acme-dns-api.py", "--port", "\(port)", "--domain", zone,
                                                    "--primary", primary, "--tsig-key-file", tsigKeyFile],
                                        directory: dir))
        let base = "http://127.0.0.1:\(port)"
        try await poll(until: Date().addingTimeInterval(30), "the acme-dns stand-in on port \(port)") {
            try runCommand("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "1", "\(base)/health"]).output == "200"
        }
        return AcmeDNSAPI(baseURL: base, zone: zone, port: port)
    }

    /// Sends an RFC 2136 update of `zone` to the primary with the lab's key (nsupdate): each
    /// of `changes` is an nsupdate line ("update add _acme-challenge.example.test. 60 CNAME x.acme.test.").
    public func update(zone: String, _ changes: [String]) throws {
        let parts = primary.split(separator: ":")
        let script = (["server \(parts[0]) \(parts[1])", "zone \(zone)"] + changes + ["send", ""]).joined(separator: "\n")
        let result = try runCommand(which("nsupdate") ?? "/usr/bin/nsupdate", ["-k", tsigKeyFile], input: script)
        guard result.status == 0 else { throw LabError("nsupdate of \(zone) failed: \(result.output)") }
    }
}
