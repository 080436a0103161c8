import Files
import FoundationEssentials
import Glibc
import Settings

extension AzureProvider {
    /// `[[provider]] type = "azure"`, validated (STYLE.md 7). Credentials are an app
    /// registration's client secret (`tenant_id`, `client_id`, and the secret from
    /// `client_secret_file`, a 0600 file, or the environment variable `client_secret_env` names;
    /// never from the config itself), or the machine's managed identity (`managed_identity = true`).
    public struct Config: Sendable {
        public enum Credential: Sendable {
            case clientSecret(tenantID: String, clientID: String, secret: String)
            /// `clientID` picks a user-assigned identity; nil means the system-assigned one.
            case managedIdentity(clientID: String?)
        }

        public var apiURL: String
        public var authorityURL: String
        public var metadataURL: String
        public var subscriptionID: String
        public var resourceGroup: String?
        public var credential: Credential
        public var ttl: UInt32
        public var timeout: Duration

        public static let defaultAPIURL = "https://management.azure.com"
        public static let defaultAuthorityURL = "https://login.microsoftonline.com"
        public static let defaultMetadataURL = "http://169.254.169.254/metadata/identity/oauth2/token"
        public static let keys: Set<String> = ["name", "type", "zones", "subscription_id", "resource_group", "tenant_id", "client_id",
                                               "client_secret_file", "client_secret_env", "managed_identity", "api_url", "authority_url",
                                               "metadata_url", "ttl", "timeout"]

        public var secretValues: [String] {
            if case .clientSecret(_, _, let secret) = credential { return [secret] }
            return []
        }

        public init(_ settings: Settings, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
            let context = settings.context
            if settings.has("client_secret") || settings.has("secret") {
                throw ConfigError("\(context): the client secret never goes in the config: put it in a 0600 file named by client_secret_file, or an environment variable named by client_secret_env.")
            }
            try settings.rejectUnknownKeys(allowed: Self.keys)
            subscriptionID = try settings.string("subscription_id") ?? ""
            guard Self.isGUID(subscriptionID) else {
                throw ConfigError("\(context): set subscription_id to the subscription's ID (a GUID like 00000000-0000-0000-0000-000000000000)\(subscriptionID.isEmpty ? "" : ", not '\(subscriptionID)'").")
            }
            resourceGroup = try settings.string("resource_group")
            if let group = resourceGroup, group.isEmpty || group.count > 90
                || !group.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.()".contains($0)) }) {
                throw ConfigError("\(context): resource_group '\(group)' is not a resource group name (letters, digits, - _ . and parentheses).")
            }
            let clientID = try settings.string("client_id")
            if let clientID, !Self.isGUID(clientID) {
                throw ConfigError("\(context): client_id '\(clientID)' is not an application (client) ID (a GUID).")
            }
            let file = try settings.string("client_secret_file"), variable = try settings.string("client_secret_env")
            if try settings.bool("managed_identity") == true {
                guard file == nil, variable == nil, !settings.has("tenant_id") else {
                    throw ConfigError("\(context): managed_identity uses the machine's identity; drop tenant_id and the client secret, or managed_identity.")
                }
                credential = .managedIdentity(clientID: clientID)
            } else {
                guard let tenant = try settings.string("tenant_id"), !tenant.isEmpty, tenant.count <= 253,
                      tenant.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }) else {
                    throw ConfigError("\(context): set tenant_id (the directory's ID or domain), client_id and client_secret_file, or managed_identity = true.")
                }
                guard let clientID else { throw ConfigError("\(context): set client_id, the app registration's application (client) ID.") }
                let secret: String
                switch (file, variable) {
                case (let file?, nil):
                    secret = try SecretFile.read(file, context: context, what: "client secret")
                case (nil, let variable?):
                    // Surrounding whitespace (a trailing newline from `export X=$(cat f)`) is no part of a secret.
                    let raw = Substring(environment[variable] ?? "")
                    let value = String(raw.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
                    guard !value.isEmpty else {
                        throw ConfigError("\(context): the environment variable \(variable) (client_secret_env) is not set.")
                    }
                    secret = value
                case (nil, nil):
                    throw ConfigError("\(context): set client_secret_file (a 0600 file holding the app's client secret) or client_secret_env.")
                case (_?, _?):
                    throw ConfigError("\(context): client_secret_file and client_secret_env both name a secret; keep one.")
                }
                credential = .clientSecret(tenantID: tenant, clientID: clientID, secret: secret)
            }
            apiURL = try Self.url(settings, "api_url", Self.defaultAPIURL)
            authorityURL = try Self.url(settings, "authority_url", Self.defaultAuthorityURL)
            metadataURL = try Self.url(settings, "metadata_url", Self.defaultMetadataURL)
            let ttl = try settings.integer("ttl") ?? 60
            guard (1...2_147_483_647).contains(ttl) else {
                throw ConfigError("\(context): ttl \(ttl) is out of range (1 to 2147483647 seconds).")
            }
            self.ttl = UInt32(ttl)
            timeout = try settings.duration("timeout") ?? .seconds(30)
            guard timeout > .zero else { throw ConfigError("\(context): timeout must be more than 0s.") }
        }

        static func isGUID(_ text: String) -> Bool {
            let groups = text.split(separator: "-", omittingEmptySubsequences: false)
            return groups.map(\.count) == [8, 4, 4, 4, 12] && groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
        }

        static func url(_ settings: Settings, _ key: String, _ fallback: String) throws -> String {
            var text = try settings.string(key) ?? fallback
            while text.hasSuffix("/") { text.removeLast() }
            guard let url = URL(string: text), url.scheme == "https" || url.scheme == "http", url.host != nil, url.query == nil else {
                throw ConfigError("\(settings.context): \(key) '\(text)' is not an http(s) URL.")
            }
            return text
        }
    }
}
