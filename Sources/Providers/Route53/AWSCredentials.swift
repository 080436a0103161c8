import Files
import FoundationEssentials
import FoundationShim
import Glibc
import Settings

/// AWS credentials, found the way AWS's own tools find them: `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`) in the environment first; else the profile
/// (`profile` setting, `AWS_PROFILE`, or "default") of the shared credentials file
/// (`credentials_file` setting, `AWS_SHARED_CREDENTIALS_FILE`, or ~/.aws/credentials), which,
/// like every secret file, must not be readable by group or others. The secret never appears in
/// a message.
public struct AWSCredentials: Sendable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// What a `Redactor` takes out of Route 53's answers.
    public var secretValues: [String] { [secretAccessKey] + (sessionToken.map { [$0] } ?? []) }

    /// Only the key id: a log line or error that prints credentials shows nothing secret.
    public var description: String { "AWS access key \(accessKeyID)" }

    /// `context` prefixes errors ("[[provider]] 'aws'").
    public static func resolve(context: String, credentialsFile: String?, profile: String?,
                               environment: [String: String]) throws -> AWSCredentials {
        if credentialsFile == nil, profile == nil,
           let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty {
            guard let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
                throw ConfigError("\(context): AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not.")
            }
            let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            return AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token)
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.homeDirectory()
        let path = credentialsFile ?? environment["AWS_SHARED_CREDENTIALS_FILE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "\(home)/.aws/credentials"
        let name = profile ?? environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        let text: String
        do {
            text = try FileSystem.readText(path, limit: .credentials)
        } catch {
            throw ConfigError("\(context): no AWS credentials: AWS_ACCESS_KEY_ID is not set and the credentials file \(path) cannot be read.")
        }
        // Read first, so a missing file keeps the sentence above; then the rule of every secret file.
        try SecretFile.checkMode(path, context: context, what: "AWS credentials")
        guard let section = parseINI(text)[name] else {
            throw ConfigError("\(context): the credentials file \(path) has no profile [\(name)].")
        }
        guard let id = section["aws_access_key_id"], !id.isEmpty,
              let secret = section["aws_secret_access_key"], !secret.isEmpty else {
            throw ConfigError("\(context): profile [\(name)] of \(path) lacks aws_access_key_id or aws_secret_access_key.")
        }
        return AWSCredentials(accessKeyID: id, secretAccessKey: secret,
                              sessionToken: section["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 })
    }

    /// The shared credentials file: `[profile]` headers and `key = value` lines; `#` and `;`
    /// start comments. Values are kept as written (no quoting rules in this format).
    static func parseINI(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                var name = String(line.dropFirst().dropLast()).trimmingWhitespace()
                if name.hasPrefix("profile ") { name = String(name.dropFirst(8)).trimmingWhitespace() }
                current = name
                sections[name, default: [:]] = sections[name, default: [:]]
                continue
            }
            guard let current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingWhitespace().lowercased()
            let value = line[line.index(after: equals)...].trimmingWhitespace()
            sections[current, default: [:]][key] = value
        }
        return sections
    }

    /// The home directory of this process's user (its passwd entry), "/" when it has none.
    static func homeDirectory() -> String {
        guard let entry = getpwuid(getuid()), let directory = entry.pointee.pw_dir else { return "/" }
        return String(cString: directory)
    }
}
