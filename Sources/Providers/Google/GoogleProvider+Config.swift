import _CryptoExtras
import Files
import FoundationEssentials
import Glibc
import HTTP
import Settings

extension GoogleProvider {
    /// `[[provider]] type = "google"`, validated (STYLE.md 7). The credential is a service
    /// account's JSON key, from `credentials_file` (a 0600 file) or from the environment variable
    /// `credentials_env` names; never from the config itself. Its private key is parsed here, so
    /// a key that cannot sign is a config error, not a failed run.
    public struct Config: Sendable {
        public var apiURL: String
        public var project: String
        public var managedZone: String?
        public var ttl: UInt32
        public var timeout: Duration
        /// The service account (`client_email`), who signs the token requests.
        public var clientEmail: String
        /// Where tokens come from (the key's `token_uri`).
        public var tokenURI: String
        var keyID: String?
        var privateKey: _RSA.Signing.PrivateKey
        /// The key as it was read, for the redactor.
        var privateKeyPEM: String

        public static let defaultAPIURL = "https://dns.googleapis.com/dns/v1"
        public static let defaultTokenURI = "https://oauth2.googleapis.com/token"
        public static let keys: Set<String> = ["name", "type", "zones", "credentials_file", "credentials_env", "project", "managed_zone",
                                               "api_url", "ttl", "timeout"]

        /// The fields of a service account key file that dns01 reads.
        struct KeyFile: Decodable {
            var type: String?
            var project_id: String?
            var private_key_id: String?
            var private_key: String?
            var client_email: String?
            var token_uri: String?
        }

        public init(_ settings: Settings, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
            let context = settings.context
            if settings.has("credentials") || settings.has("private_key") || settings.has("credentials_json") {
                throw ConfigError("\(context): the service account key never goes in the config: put it in a 0600 file named by credentials_file, or an environment variable named by credentials_env.")
            }
            try settings.rejectUnknownKeys(allowed: Self.keys)
            let text: String, origin: String
            switch (try settings.string("credentials_file"), try settings.string("credentials_env")) {
            case (let file?, nil):
                try SecretFile.checkMode(file, context: context, what: "service account key")
                do {
                    text = try FileSystem.readText(file, limit: .secret)
                } catch {
                    throw ConfigError("\(context): the service account key file \(file) cannot be read (\((error as? FileSystemError)?.reason ?? "\(error)")).")
                }
                origin = "the service account key file \(file)"
            case (nil, let variable?):
                guard let value = environment[variable], !value.isEmpty else {
                    throw ConfigError("\(context): the environment variable \(variable) (credentials_env) is not set.")
                }
                text = value
                origin = "the service account key in \(variable)"
            case (nil, nil):
                throw ConfigError("\(context): set credentials_file (a 0600 file holding a service account's JSON key) or credentials_env.")
            case (_?, _?):
                throw ConfigError("\(context): credentials_file and credentials_env both name a key; keep one.")
            }
            guard let key = try? JSONDecoder().decode(KeyFile.self, from: Data(text.utf8)) else {
                throw ConfigError("\(context): \(origin) is not JSON (a service account key, as the Cloud console downloads it).")
            }
            guard key.type == "service_account" else {
                throw ConfigError("\(context): \(origin) is not a service account key (its type is \(key.type.map { "'\(UntrustedText.clip($0))'" } ?? "missing"), not 'service_account').")
            }
            guard let email = key.client_email, !email.isEmpty, email.utf8.count < 256, email.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                throw ConfigError("\(context): \(origin) has no client_email.")
            }
            clientEmail = email
            guard let pem = key.private_key, let parsed = try? _RSA.Signing.PrivateKey(pemRepresentation: pem) else {
                throw ConfigError("\(context): \(origin) holds no RSA private key that can sign (private_key).")
            }
            privateKey = parsed
            privateKeyPEM = pem
            keyID = key.private_key_id.flatMap { id in id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) ? id : nil }
            tokenURI = key.token_uri ?? Self.defaultTokenURI
            try Self.checkURL(tokenURI, "the key's token_uri", context)
            apiURL = try settings.string("api_url") ?? Self.defaultAPIURL
            while apiURL.hasSuffix("/") { apiURL.removeLast() }
            try Self.checkURL(apiURL, "api_url", context)
            guard let project = try settings.string("project") ?? key.project_id else {
                throw ConfigError("\(context): set project (the Google Cloud project that holds the managed zones); the key names none.")
            }
            // Project IDs: 6 to 30 lowercase letters, digits, hyphens (older ones: a domain prefix "example.com:").
            guard !project.isEmpty, project.count <= 100,
                  project.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == "." || $0 == ":") }) else {
                throw ConfigError("\(context): project '\(project)' is not a Google Cloud project ID (lowercase letters, digits and hyphens).")
            }
            self.project = project
            managedZone = try settings.string("managed_zone")
            if let managedZone, managedZone.isEmpty || managedZone.count > 63
                || !managedZone.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) {
                throw ConfigError("\(context): managed_zone '\(managedZone)' is not a managed zone's name (lowercase letters, digits and hyphens).")
            }
            if managedZone != nil, (try settings.strings("zones") ?? []).count != 1 {
                throw ConfigError("\(context): managed_zone names one zone, so zones must list exactly that one.")
            }
            let ttl = try settings.integer("ttl") ?? 60
            guard (1...86_400).contains(ttl) else {
                throw ConfigError("\(context): ttl \(ttl) is out of range (1 to 86400 seconds).")
            }
            self.ttl = UInt32(ttl)
            timeout = try settings.duration("timeout") ?? .seconds(30)
            guard timeout > .zero else { throw ConfigError("\(context): timeout must be more than 0s.") }
        }

        static func checkURL(_ text: String, _ what: String, _ context: String) throws {
            guard let url = URL(string: text), url.scheme == "https" || url.scheme == "http", url.host != nil else {
                throw ConfigError("\(context): \(what) '\(text)' is not an http(s) URL.")
            }
        }
    }
}
