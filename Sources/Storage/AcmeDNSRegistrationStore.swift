import Files
import FoundationEssentials
import Glibc

/// One `dns01 serve` registration (acme-dns's `/register`): who may write which TXT values at
/// `<subdomain>.<zone>`. The password is kept only as a bcrypt hash.
public struct AcmeDNSRegistration: Codable, Sendable, Equatable {
    /// A lowercase UUID, the `X-Api-User` header.
    public var username: String
    /// bcrypt of the `X-Api-Key` password.
    public var passwordHash: String
    /// A lowercase UUID: the registration writes only `<subdomain>.<zone>`.
    public var subdomain: String
    /// CIDRs `/update` is accepted from; empty: anywhere.
    public var allowFrom: [String]
    /// The TXT values served now, oldest first: at most two (acme-dns keeps the two most recent,
    /// so a wildcard and its apex validate side by side).
    public var values: [String]
    /// Seconds since 1970 when it was registered.
    public var created: Int64

    public init(username: String, passwordHash: String, subdomain: String, allowFrom: [String], values: [String] = [], created: Int64) {
        self.username = username
        self.passwordHash = passwordHash
        self.subdomain = subdomain
        self.allowFrom = allowFrom
        self.values = values
        self.created = created
    }

    /// Whether `text` is a lowercase UUID (8-4-4-4-12 hex digits): the only form a username or
    /// subdomain takes, checked before it names a file or a row.
    public static func isUUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (index, byte) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte) else { return false }
            }
        }
        return true
    }
}

/// Where `dns01 serve` keeps its registrations: the state directory (default) or, with
/// `[storage] type = "postgres"`, the fleet's database, so several instances share them.
/// Every method may block: callers run it on the `BlockingPool`.
public protocol AcmeDNSRegistrationStore: Sendable {
    /// Stores a new registration; fails if its username or subdomain exists.
    func add(_ registration: AcmeDNSRegistration) throws
    /// The registration of `username` (a UUID), nil if there is none.
    func registration(username: String) throws -> AcmeDNSRegistration?
    /// Replaces the served values of `username`'s registration.
    func setValues(_ values: [String], username: String) throws
}

/// Registrations as one JSON file each in `<state_dir>/acme-dns/<username>.json` (0600, the
/// directory 0700), each written atomically.
public struct DirectoryAcmeDNSRegistrationStore: AcmeDNSRegistrationStore {
    public let directory: String

    public init(stateDir: String) {
        directory = "\(stateDir)/acme-dns"
    }

    func path(_ username: String) throws -> String {
        guard AcmeDNSRegistration.isUUID(username) else { throw FileSystemError(path: directory, operation: "look up a registration in", reason: "the username is not a UUID") }
        return "\(directory)/\(username).json"
    }

    public func add(_ registration: AcmeDNSRegistration) throws {
        try FileSystem.createDirectory(directory, mode: 0o700)
        let path = try path(registration.username)
        guard !FileSystem.exists(path) else { throw FileSystemError(path: path, operation: "create", reason: "the registration exists already") }
        try write(registration, to: path)
    }

    public func registration(username: String) throws -> AcmeDNSRegistration? {
        let path = try path(username)
        guard FileSystem.exists(path) else { return nil }
        let bytes = try FileSystem.readBytes(path, limit: .state)
        do {
            return try JSONDecoder().decode(AcmeDNSRegistration.self, from: Data(bytes))
        } catch {
            throw FileSystemError(path: path, operation: "read", reason: "not a registration dns01 wrote")
        }
    }

    public func setValues(_ values: [String], username: String) throws {
        let path = try path(username)
        guard var registration = try registration(username: username) else {
            throw FileSystemError(path: path, operation: "update", reason: "no such registration")
        }
        registration.values = values
        try write(registration, to: path)
    }

    private func write(_ registration: AcmeDNSRegistration, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(registration)
        try FileSystem.writeAtomically([UInt8](data), to: path, mode: 0o600)
    }
}
