import FoundationEssentials
import Glibc
import Storage

/// Where dns01's state lives: the one interface the core is given (DESIGN.md, "The core receives
/// one `StateStore`"). Issuance, renewal runs, accounts and the journal call it and never ask
/// which backend they have.
///
/// Two backends, chosen by `[storage] type` (`StorageSettings.open`):
/// - `DirectoryStateStore`: `state_dir` alone, today's layout. Nothing is shared with other
///   machines, so the "shared" operations below do nothing.
/// - `PostgresStateStore`: the fleet's PostgreSQL is the truth (accounts, versions, journal rows,
///   run history, advisory locks), and `state_dir` is this machine's working copy.
///
/// Whatever the backend, a version becomes live on this machine only through
/// `CertificateStore.install` (validate, write, flip, deploy hook).
public protocol StateStore: Sendable {
    /// This machine's state directory (live/, archive/, the working copy of shared state).
    var stateDir: String { get }
    /// Where the journal keeps its entries: files under `state_dir/journal`, or database rows.
    var journalBackend: any JournalBackend { get }
    /// `dns01 serve`'s acme-dns registrations: files under `state_dir/acme-dns`, or a table
    /// every `serve` instance behind a load balancer shares.
    var registrations: any AcmeDNSRegistrationStore { get }

    /// Records a new version of `name` (its chain's PEM `blocks`, leaf first) where versions are
    /// numbered before it is written here: returns its number (the shared database's), or nil
    /// when the state directory numbers it.
    func recordVersion(name: String, blocks: [String], keyPEM: String?) throws -> Int?

    /// Takes the locks of `names` that other machines honour (waiting up to `waitSeconds` for a
    /// held one, or skipping it): every name for the directory backend, whose only lock is the
    /// per-certificate flock (`CertificateLock`) every backend takes too.
    func lockShared(_ names: [String], waitSeconds: Int?) async throws -> SharedLocks
    /// Gives back what `lockShared` took.
    func releaseShared(_ names: [String]) async

    /// Runs `body` with the account of `account` current in its files and no other machine
    /// using it; what `body` changed is shared afterwards when `push`.
    func withAccount<T>(_ account: AccountStore, push: Bool, _ body: () async throws -> T) async throws -> T
    /// Removes the account of `directoryURL` from what is shared (the files are the caller's).
    func forgetAccount(directoryURL: String) async throws

    /// Installs the shared live versions of `names` (every [[certificate]] when nil) that differ
    /// from this machine's; nil when nothing is shared (the directory backend).
    func syncLive(_ names: [String]?, config: Configuration, events: @escaping EventSink) async throws -> FleetSync.Summary?
    /// Copies the shared run history of `names` into this machine's, before a run decides.
    func pullHistory(_ names: [String]) async throws
    /// Shares this machine's run history of `names`, after a run recorded its outcomes.
    func pushHistory(_ names: [String]) async throws

    /// The sentence for a lost connection to shared state behind `error`, if that is what it
    /// was: such a certificate failed to be stored, not at the CA or in DNS.
    func lostConnection(_ error: any Error) -> String?

    /// Ends the session (its shared locks with it).
    func close()
}

/// What `StateStore.lockShared` took.
public struct SharedLocks: Sendable {
    /// The certificates this process now holds.
    public var locked: [String] = []
    /// Why each of the others was not taken: one sentence naming the holder.
    public var refusals: [String: String] = [:]
}

/// `[storage] type = "directory"`: everything under `state_dir`, nothing shared.
public struct DirectoryStateStore: StateStore {
    public let stateDir: String

    public init(stateDir: String) { self.stateDir = stateDir }

    public var journalBackend: any JournalBackend { DirectoryJournal() }

    public var registrations: any AcmeDNSRegistrationStore { DirectoryAcmeDNSRegistrationStore(stateDir: stateDir) }

    public func recordVersion(name: String, blocks: [String], keyPEM: String?) throws -> Int? { nil }

    public func lockShared(_ names: [String], waitSeconds: Int?) async throws -> SharedLocks { SharedLocks(locked: names) }
    public func releaseShared(_ names: [String]) async {}

    public func withAccount<T>(_ account: AccountStore, push: Bool, _ body: () async throws -> T) async throws -> T {
        try await body()
    }
    public func forgetAccount(directoryURL: String) async throws {}

    public func syncLive(_ names: [String]?, config: Configuration, events: @escaping EventSink) async throws -> FleetSync.Summary? {
        nil
    }
    public func pullHistory(_ names: [String]) async throws {}
    public func pushHistory(_ names: [String]) async throws {}

    public func lostConnection(_ error: any Error) -> String? { nil }
    public func close() {}
}
