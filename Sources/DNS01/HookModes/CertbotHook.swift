import Blocking
import DNS
import Files
import FoundationEssentials
import Glibc
import Providers

/// certbot's `--manual-auth-hook` / `--manual-cleanup-hook`, done with one propagation wait per
/// certbot run instead of one per name.
///
/// certbot calls the auth hook once per challenge, in order, with `CERTBOT_REMAINING_CHALLENGES`
/// counting down to 0. Each call but the last only records its challenge in a per-run state
/// file; the last one presents every record of the run (grouped per zone) and waits once. The
/// cleanup hook removes exactly its own value; the last cleanup removes the state file.
public struct CertbotHook: Sendable {
    /// What certbot passes in the environment.
    public struct Call: Sendable {
        public var domain: String
        public var validation: String
        public var remaining: Int
        public var allDomains: String

        /// Reads certbot's variables; exit status 2 with the missing variable's name otherwise.
        public init(environment: [String: String], cleanup: Bool) throws {
            func required(_ name: String) throws -> String {
                guard let value = environment[name], !value.isEmpty else {
                    throw UsageError("\(name) is not set: run this as certbot's --manual-\(cleanup ? "cleanup" : "auth")-hook, which sets CERTBOT_DOMAIN, CERTBOT_VALIDATION, CERTBOT_REMAINING_CHALLENGES and CERTBOT_ALL_DOMAINS.", code: .notFromClient)
                }
                return value
            }
            domain = try DomainName.normalizeIDN(try required("CERTBOT_DOMAIN"), allowWildcard: true)
            validation = try required("CERTBOT_VALIDATION")
            // RFC 8555 §8.4: base64url of a SHA-256 digest. Only such values are journaled and
            // ever removed by a later run.
            guard Journal.isChallengeValue(validation) else {
                throw UsageError("CERTBOT_VALIDATION is not a dns-01 value (43 base64url characters).")
            }
            if cleanup {
                remaining = Int(environment["CERTBOT_REMAINING_CHALLENGES"] ?? "") ?? 0
            } else {
                let text = try required("CERTBOT_REMAINING_CHALLENGES")
                guard let count = Int(text), count >= 0 else {
                    throw UsageError("CERTBOT_REMAINING_CHALLENGES is '\(text)', not a count.")
                }
                remaining = count
            }
            allDomains = environment["CERTBOT_ALL_DOMAINS"] ?? domain
        }
    }

    /// The per-run state: every challenge of one certbot run for one certificate.
    struct State: Codable, Sendable {
        var challenges: [Challenge]
        var presented: [ChallengeRecord]
        struct Challenge: Codable, Equatable, Sendable {
            var domain: String
            var validation: String
        }
    }

    public let config: Configuration
    let events: EventSink

    public init(config: Configuration, events: @escaping EventSink) {
        self.config = config
        self.events = events
    }

    /// The records belong to the certbot process: they outlive each hook process (the cleanup
    /// hook takes them out again), and become orphans for a later run only once certbot itself
    /// is gone.
    func hook(certbotProcess: Int32) -> ClientHook {
        ClientHook(config: config, events: events, clientProcess: certbotProcess)
    }

    /// The auth hook. Returns the number of records presented (0 while challenges remain).
    /// Like every command that may touch DNS, it first removes what killed runs left behind.
    @discardableResult
    public func auth(_ call: Call, certbotProcess: Int32 = CertbotHook.certbotProcess()) async throws -> Int {
        let hook = hook(certbotProcess: certbotProcess)
        try await hook.start()
        let path = statePath(call, certbotProcess: certbotProcess)
        // Find the target now, so a name no provider serves fails on its own call.
        _ = try await hook.deployer.target(for: call.domain)
        let state = try await update(path) { state in
            let challenge = State.Challenge(domain: call.domain, validation: call.validation)
            if !state.challenges.contains(challenge) { state.challenges.append(challenge) }
        }.after
        guard call.remaining == 0 else {
            events(.step("recorded the challenge for \(call.domain); \(call.remaining) to come"))
            return 0
        }
        let challenges = try state.challenges.map {
            try ClientHook.Challenge(domain: $0.domain, value: $0.validation, from: "certbot")
        }
        do {
            return try await hook.presentAndWait(challenges, client: "certbot") { records in
                _ = try await update(path) { $0.presented = records }
            }.count
        } catch {
            try? FileSystem.remove(path)
            throw error
        }
    }

    /// The cleanup hook: removes this call's value. The last cleanup of the run removes the
    /// state file.
    public func cleanup(_ call: Call, certbotProcess: Int32 = CertbotHook.certbotProcess()) async throws {
        let hook = hook(certbotProcess: certbotProcess)
        try await hook.start()
        let path = statePath(call, certbotProcess: certbotProcess)
        let base = Self.base(call.domain)
        let validation = call.validation
        let (before, state) = try await update(path) { state in
            state.presented.removeAll { $0.value == validation && $0.target.domain == base }
            state.challenges.removeAll { $0.validation == validation }
        }
        var mine = before.presented.filter { $0.value == validation && $0.target.domain == base }
        if mine.isEmpty {
            // Not presented by a state file of this run (e.g. auth failed, or a different
            // process layout): remove the value where it would be.
            let target = try await hook.deployer.target(for: call.domain)
            mine = [ChallengeRecord(target: target, value: call.validation)]
        }
        defer { if state.challenges.isEmpty && state.presented.isEmpty { try? FileSystem.remove(path) } }
        try await hook.remove(mine)
    }

    static func base(_ domain: String) -> String {
        DomainName.base(of: domain)
    }

    // MARK: - State file

    func statePath(_ call: Call, certbotProcess: Int32) -> String {
        let key = "\(certbotProcess)-\(call.allDomains)"
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325   // FNV-1a, just to make a file name
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0100_0000_01b3 }
        return "\(config.acme.stateDir)/certbot/\(certbotProcess)-\(String(hash, radix: 16)).json"
    }

    /// Read-modify-write of the state file under an exclusive lock; returns the state before
    /// and after `change`. On the `BlockingPool`: flock waits for the other hook processes, and
    /// the write is fsynced.
    func update(_ path: String, _ change: @escaping @Sendable (inout State) -> Void) async throws -> (before: State, after: State) {
        try await BlockingPool.shared.run { try Self.updateNow(path, change) }
    }

    static func updateNow(_ path: String, _ change: (inout State) -> Void) throws -> (before: State, after: State) {
        let directory = FileSystem.directoryName(path)
        try FileSystem.createDirectory(directory)
        let lock = try FileLock(path: directory + "/.lock")
        defer { lock.unlock() }
        var state = State(challenges: [], presented: [])
        if FileSystem.exists(path) {
            do {
                state = try JSONDecoder().decode(State.self, from: Data(try FileSystem.readBytes(path, limit: .state)))
            } catch let error as FileSystemError {
                throw error
            } catch {
                throw FileSystemError(path: path, operation: "read the certbot run state", reason: "it is not a state file dns01 wrote")
            }
        }
        let before = state
        change(&state)
        try FileSystem.writeAtomically(Array(try JSONEncoder().encode(state)), to: path, mode: 0o600)
        return (before, state)
    }

    /// The pid of the certbot process that runs this hook (certbot runs hooks through a shell).
    public static func certbotProcess() -> Int32 {
        ClientHook.clientProcess(named: ["certbot"])
    }
}
