import DNS
import Files
import Settings

/// Writes challenge records by RFC 2136 dynamic update, signed with TSIG (RFC 8945), through
/// libldns. All records of one zone go in one UPDATE message.
public struct RFC2136Provider: DNSProvider {
    public static let typeName = "rfc2136"

    /// `[[provider]]` keys of an rfc2136 provider. Validated here, so a bad config fails before
    /// any CA or DNS traffic (STYLE.md 7).
    public struct Config: Sendable {
        /// The primary that accepts updates: "192.0.2.1", "ns1.example.com:53" is not allowed —
        /// an address, so no resolver is needed to find where to send the update.
        public var server: DNSServer
        public var key: TSIGKey?
        public var ttl: UInt32
        public var timeout: Duration

        public static let keys: Set<String> = ["name", "type", "zones", "server", "tsig_key_file", "ttl", "timeout"]

        public init(_ settings: Settings) throws {
            try settings.rejectUnknownKeys(allowed: Self.keys)
            let serverText = try settings.requiredString("server")
            do {
                server = try DNSServer(parsing: serverText)
            } catch {
                throw ConfigError("\(settings.context): server '\(serverText)' is not an address with an optional port (e.g. \"192.0.2.53:53\" or \"[2001:db8::53]:53\").")
            }
            if let path = try settings.string("tsig_key_file") {
                // Read here, through the one bounded reader: the DNS module parses key text and
                // reads no files.
                do {
                    key = try TSIGKey.parse(keyFile: FileSystem.readText(path, limit: .tsigKey), path: path)
                } catch let error as FileSystemError {
                    throw ConfigError("\(settings.context): cannot read TSIG key file \(path): \(error.reason).")
                } catch let error as DNSError {
                    throw ConfigError("\(settings.context): \(error.message)")
                }
                // Read first (its errors say what is wrong with the key), then the secret-file rule.
                try SecretFile.checkMode(path, context: settings.context, what: "TSIG key")
            } else {
                key = nil
            }
            let ttl = try settings.integer("ttl") ?? 60
            guard (0...86400).contains(ttl) else {
                throw ConfigError("\(settings.context): ttl \(ttl) is out of range (0 to 86400 seconds).")
            }
            self.ttl = UInt32(ttl)
            timeout = try settings.duration("timeout") ?? .seconds(10)
        }
    }

    public let name: String
    public let zones: [String]
    public let config: Config
    public var secretValues: [String] { config.key.map { [$0.secret] } ?? [] }
    public var type: String { Self.typeName }

    public init(name: String, zones: [String], config: Config) {
        self.name = name
        self.zones = zones
        self.config = config
    }

    public func present(_ records: [TXTRecord], zone: String) async throws {
        try await send(zone: zone, add: records.map(withTTL), delete: [], code: .present)
    }

    public func cleanup(_ records: [TXTRecord], zone: String) async throws {
        try await send(zone: zone, add: [], delete: records.map(withTTL), code: .cleanup)
    }

    private func withTTL(_ record: TXTRecord) -> TXTRecord {
        TXTRecord(name: record.name, value: record.value, ttl: config.ttl)
    }

    private func send(zone: String, add: [TXTRecord], delete: [TXTRecord], code: ProviderError.Code) async throws {
        guard !add.isEmpty || !delete.isEmpty else { return }
        do {
            try await DNSUpdater(timeout: config.timeout)
                .update(zone: zone, server: config.server, key: config.key, add: add, delete: delete)
        } catch let error as DNSError {
            throw ProviderError(code: code, provider: name, message: "\(label): \(error.message)", underlying: error,
                                wroteNothing: Self.wroteNothing(error, records: add + delete))
        }
    }

    /// Whether a failed update certainly changed nothing: the records were refused before
    /// sending (not in the zone), or the server answered the one UPDATE message with an error
    /// rcode (RFC 2136 §3: an update is applied whole or not at all). Silence, or an answer
    /// whose signature does not verify, may follow an applied update; a batch large enough to
    /// go as several messages may have had some applied.
    static func wroteNothing(_ error: DNSError, records: [TXTRecord]) -> Bool {
        if error.code == .invalidName { return true }
        guard let rcode = error.rcode, rcode != "NOERROR" else { return false }
        // Well under the updater's per-message budget (16,000 octets): surely one message.
        let size = records.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 32 }
        return size < 4_000
    }
}
