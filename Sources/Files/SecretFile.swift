import FoundationEssentials
import FoundationShim
import Glibc
import Settings

/// A credential kept in a file of its own (an API token, a MAC key): read once, whitespace
/// trimmed, and refused when others may read it, as ssh refuses a private key that others can
/// read. Errors name the file and its mode, never its content.
public enum SecretFile {
    public static func read(_ path: String, context: String, what: String) throws -> String {
        try checkMode(path, context: context, what: what)
        let text: String
        do {
            text = try FileSystem.readText(path, limit: .secret)
        } catch {
            throw ConfigError("\(context): the \(what) file \(path) cannot be read (\(describeFileError(error))).")
        }
        let secret = text.trimmingWhitespaceAndNewlines()
        guard !secret.isEmpty else { throw ConfigError("\(context): the \(what) file \(path) is empty.") }
        guard !secret.contains(where: { $0.isNewline }) else {
            throw ConfigError("\(context): the \(what) file \(path) holds more than one line.")
        }
        return secret
    }

    /// The one rule for every file dns01 reads secrets from (token files, `url_file`, the AWS
    /// credentials file, a config holding secrets): neither group nor others may read or write
    /// it. `why` explains, in the refusal, what makes the file secret when that is not obvious.
    public static func checkMode(_ path: String, context: String, what: String, why: String = "") throws {
        let attributes: (mode: mode_t, uid: uid_t, gid: gid_t)
        do {
            attributes = try FileSystem.attributes(path)
        } catch {
            throw ConfigError("\(context): the \(what) file \(path) cannot be read (\(describeFileError(error))).")
        }
        guard attributes.mode & 0o077 == 0 else {
            throw ConfigError("\(context): the \(what) file \(path)\(why) is readable by others (mode \(String(attributes.mode & 0o777, radix: 8))): chmod 600 it.")
        }
    }

    private static func describeFileError(_ error: any Error) -> String {
        (error as? FileSystemError)?.reason ?? "\(error)"
    }
}
