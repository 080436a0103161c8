import Foundation

extension TestLab {
    /// The Azure DNS stand-in (Tests/Support/azure-api.py), started for this lab: Resource
    /// Manager, the client-credentials token endpoint and the managed identity endpoint on one port.
    public struct AzureAPI: Sendable {
        /// Resource Manager's base URL, as `api_url` takes it; also `authority_url`.
        public var baseURL: String
        /// The managed identity endpoint, as `metadata_url` takes it.
        public var metadataURL: String
        /// A 0600 file holding the one client secret it accepts.
        public var secretFile: String
        public var tenantID: String
        public var clientID: String
        public var subscriptionID: String
        public var resourceGroup: String
        var port: UInt16
        /// The port of Resource Manager and both token endpoints.
        public var tokenPort: UInt16 { port }

        /// Requests served so far, by method and path shape
        /// ("PUT /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/dnszones/{zone}/TXT/{name}").
        public func requests() throws -> [String: Int] {
            try TestLab.requestCounts(at: "http://127.0.0.1:\(port)")
        }

        /// Answers the next `count` API requests with HTTP `status` and the vendor's error shape
        /// holding `message` (any text: hostile, huge).
        public func fail(_ count: Int, status: Int = 400, message: String) throws {
            let body: [String: Any] = ["count": count, "status": status, "code": "BadRequest", "message": message]
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("fail-\(UUID().uuidString.prefix(8)).json").path
            try JSONSerialization.data(withJSONObject: body).write(to: URL(fileURLWithPath: file))
            defer { try? FileManager.default.removeItem(atPath: file) }
            let result = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "-X", "POST", "--data-binary", "@\(file)",
                                                          "http://127.0.0.1:\(port)/__lab/fail"])
            guard result.output.contains("\"fail\"") else { throw LabError("the stand-in refused /__lab/fail: \(result.output)") }
        }

        /// Answers the next `count` requests (the token endpoints' too) with HTTP 429.
        public func throttle(_ count: Int) throws {
            _ = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "-X", "POST", "-d", "{\"count\": \(count)}",
                                                 "http://127.0.0.1:\(port)/__lab/throttle"])
        }
    }

    /// Starts the stand-in for the lab's update zones (in one resource group); it writes every
    /// record set into the primary with RFC 2136, so propagation and validation stay real.
    public func startAzureAPI(zones: [String]? = nil, pageSize: Int = 100) async throws -> AzureAPI {
        let dir = "\(directory)/azure"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let secretFile = "\(dir)/client-secret"
        try write("lab~azure.secret-\(UUID().uuidString.prefix(8))\n", to: secretFile, mode: 0o600)
        let port = try FreePort.find(on: ["127.0.0.1"])
        let api = AzureAPI(baseURL: "http://127.0.0.1:\(port)", metadataURL: "http://127.0.0.1:\(port)/metadata/identity/oauth2/token",
                           secretFile: secretFile, tenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47",
                           clientID: "8a2c5e1b-3f4d-4e6a-9b7c-0d1e2f3a4b5c", subscriptionID: "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
                           resourceGroup: "dns01-lab", port: port)
        let script = "\(Self.supportDirectory)/azure-api.py"
        processes.append(try LabProcess(name: "azure-api", executable: "/usr/bin/python3",
                                        arguments: [script, "--port", "\(port)", "--tenant", api.tenantID, "--client-id", api.clientID,
                                                    "--secret-file", secretFile, "--subscription", api.subscriptionID,
                                                    "--resource-group", api.resourceGroup, "--page-size", "\(pageSize)",
                                                    "--primary", primary, "--tsig-key-file", tsigKeyFile]
                                            + (zones ?? options.zones).flatMap { ["--zone", $0] },
                                        directory: dir))
        try await poll(until: Date().addingTimeInterval(30), "the Azure DNS stand-in on port \(port)") {
            try runCommand("/usr/bin/curl", ["-s", "--max-time", "1", "http://127.0.0.1:\(port)/__lab/stats"]).output.contains("requests")
        }
        return api
    }
}
