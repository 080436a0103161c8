import Foundation

extension TestLab {
    /// The virtualenv the scripts create (scripts/lib.sh `ensure_venv`): $DNS01_VENV, else the
    /// repository's .venv.
    public static var virtualenv: String {
        if let path = ProcessInfo.processInfo.environment["DNS01_VENV"], !path.isEmpty { return path }
        return URL(fileURLWithPath: supportDirectory).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".venv").path
    }

    /// moto's Route 53, with the lab's BIND serving its hosted zones (Tests/Support/route53-lab.py).
    public struct Route53: Sendable {
        /// The endpoint, as `endpoint` or AWS_ENDPOINT_URL_ROUTE_53 takes it.
        public var endpoint: String
        /// Hosted zone IDs by zone name.
        public var zoneIDs: [String: String]
        var port: UInt16

        /// dns01's requests to the API so far, by method and path shape.
        public func requests() throws -> [String: Int] {
            try TestLab.requestCounts(at: endpoint)
        }

        /// Sets the TXT record set at `name` in moto directly, as someone else would.
        public func put(zone: String, name: String, values: [String]) throws {
            guard let id = zoneIDs[zone] else { throw LabError("no hosted zone \(zone)") }
            let result = try runCommand("\(TestLab.virtualenv)/bin/python",
                                        ["\(TestLab.supportDirectory)/route53-lab.py", "put", "--endpoint", endpoint,
                                         "--zone-id", id, "--name", name] + values.flatMap { ["--value", $0] })
            guard result.status == 0 else { throw LabError("route53-lab.py put failed: \(result.output)") }
        }
    }

    /// Starts moto's Route 53 with a hosted zone for each of the lab's update zones.
    public func startRoute53() async throws -> Route53 {
        let python = "\(Self.virtualenv)/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw LabError("no virtualenv with moto at \(Self.virtualenv): run ./scripts/test, which creates it (or set DNS01_VENV)")
        }
        let dir = "\(directory)/route53"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let port = try FreePort.find(on: ["127.0.0.1"])
        let process = try LabProcess(name: "route53-lab", executable: python,
                                     arguments: ["\(Self.supportDirectory)/route53-lab.py", "serve", "--port", "\(port)",
                                                 "--primary", primary, "--tsig-key-file", tsigKeyFile]
                                         + options.zones.flatMap { ["--zone", $0] },
                                     directory: dir)
        processes.append(process)
        let log = "\(dir)/route53-lab.log"
        try await poll(until: Date().addingTimeInterval(60), "moto's Route 53 on port \(port)") {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("ready ")
        }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix("ready ") } ?? ""
        var ids: [String: String] = [:]
        for pair in line.dropFirst(6).split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { ids[String(parts[0])] = String(parts[1]) }
        }
        return Route53(endpoint: "http://127.0.0.1:\(port)", zoneIDs: ids, port: port)
    }
}
