import DNS
import Files
import FoundationEssentials
import Glibc
import Settings

extension AcmeDNSProvider {
    /// One acme-dns registration, as `POST /register` returns it and lego's `acmedns` provider
    /// and the certbot-dns-acmedns plugin keep it, by domain.
    public struct Registration: Sendable, Decodable, Equatable {
        public var username: String
        public var password: String
        public var fulldomain: String
        public var subdomain: String
        public var allowfrom: [String]?
    }

    /// `[[provider]] type = "acme-dns"`, validated (STYLE.md 7). The credentials come from
    /// `registration_file`: a 0600 JSON object from domain to registration
    /// (`{"example.com": {"username", "password", "fulldomain", "subdomain", "allowfrom"}}`).
    public struct Config: Sendable {
        /// The acme-dns server's API, without a trailing slash ("https://auth.example.org").
        public var apiBase: String
        public var registrationFile: String
        /// Registrations by their canonical `fulldomain`: where the `_acme-challenge` CNAMEs point.
        public var registrations: [String: Registration]
        public var timeout: Duration
        /// "host:port" of `apiBase`, for messages.
        public var host: String

        public static let keys: Set<String> = ["name", "type", "zones", "api_base", "registration_file", "timeout"]
        public static let fileLimit = FileSystem.ReadLimit(1 << 20, "an acme-dns registration file")

        public init(_ settings: Settings) throws {
            if ["username", "password", "api_key", "api_user"].contains(where: settings.has) {
                throw ConfigError("\(settings.context): acme-dns credentials never go in the config: keep them in the 0600 JSON file named by registration_file.")
            }
            try settings.rejectUnknownKeys(allowed: Self.keys)
            guard var base = try settings.string("api_base") else {
                throw ConfigError("\(settings.context): set api_base, the acme-dns server's API (like \"https://auth.example.org\").")
            }
            while base.hasSuffix("/") { base.removeLast() }
            guard let url = URL(string: base), url.scheme == "https" || url.scheme == "http", let hostName = url.host, !hostName.isEmpty else {
                throw ConfigError("\(settings.context): api_base '\(base)' is not an http(s) URL.")
            }
            apiBase = base
            host = url.port.map { "\(hostName):\($0)" } ?? hostName
            guard let file = try settings.string("registration_file") else {
                throw ConfigError("\(settings.context): set registration_file, a 0600 JSON file of acme-dns registrations by domain (as lego's and certbot-dns-acmedns's storage file).")
            }
            registrationFile = file
            registrations = try Self.readRegistrations(file, context: settings.context)
            timeout = try settings.duration("timeout") ?? .seconds(30)
            guard timeout > .zero else { throw ConfigError("\(settings.context): timeout must be more than 0s.") }
        }

        /// The file's registrations by canonical fulldomain. Errors name the file and the domain
        /// at fault, never a credential.
        static func readRegistrations(_ path: String, context: String) throws -> [String: Registration] {
            try SecretFile.checkMode(path, context: context, what: "acme-dns registration")
            let text: String
            do {
                text = try FileSystem.readText(path, limit: fileLimit)
            } catch {
                throw ConfigError("\(context): the acme-dns registration file \(path) cannot be read (\((error as? FileSystemError)?.reason ?? "\(error)")).")
            }
            let decoded: [String: Registration]
            do {
                decoded = try JSONDecoder().decode([String: Registration].self, from: Data(text.utf8))
            } catch {
                throw ConfigError("\(context): the acme-dns registration file \(path) is not a JSON object of domain → {\"username\", \"password\", \"fulldomain\", \"subdomain\"} (as lego and certbot-dns-acmedns write it).")
            }
            guard !decoded.isEmpty else { throw ConfigError("\(context): the acme-dns registration file \(path) holds no registration.") }
            var result: [String: Registration] = [:]
            for (domain, registration) in decoded.sorted(by: { $0.key < $1.key }) {
                let printable = { (text: String) in !text.isEmpty && text.allSatisfy { $0.isASCII && !$0.isWhitespace && !$0.isNewline && $0 != "\0" } }
                guard printable(registration.username), printable(registration.password), printable(registration.subdomain),
                      printable(registration.fulldomain) else {
                    throw ConfigError("\(context): the acme-dns registration of \(domain) in \(path) lacks a username, password, subdomain or fulldomain (each printable ASCII).")
                }
                let full = DomainName.canonical(registration.fulldomain)
                if let other = result[full], other != registration {
                    throw ConfigError("\(context): two acme-dns registrations in \(path) have the fulldomain \(full) with different credentials; keep one.")
                }
                result[full] = registration
            }
            return result
        }
    }
}
