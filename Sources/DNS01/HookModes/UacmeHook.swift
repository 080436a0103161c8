import FoundationEssentials
import Glibc

/// uacme's challenge hook contract (`uacme -h PROGRAM`, man uacme):
/// `PROGRAM METHOD TYPE IDENT TOKEN AUTH`, METHOD one of `begin`, `done`, `failed`.
///
/// uacme handles one authorization at a time: `begin` for one of its challenges, then it asks the
/// CA to validate, polls, and calls `done` or `failed`, before it looks at the next
/// authorization. So there is nothing to batch: `begin` presents its record and waits until
/// every nameserver serves it, `done`/`failed` remove exactly that value. For dns-01 uacme has
/// already turned the key authorization into the TXT value (base64url of its SHA-256 digest,
/// RFC 8555 §8.4), and IDENT is the authorization's identifier, a wildcard's without `*.`
/// (RFC 8555 §7.1.4), so `*.x` and `x` share `_acme-challenge.x`, each with its own value.
///
/// The exit status answers `begin`: 0 accepts the challenge, anything else declines it (uacme
/// then offers the authorization's next challenge). Every type but dns-01 is declined.
public struct UacmeHook: Sendable {
    public enum Call: Equatable, Sendable {
        case begin(ClientHook.Challenge)
        case end(ClientHook.Challenge)
        /// A challenge type other than dns-01: declined, nothing done.
        case decline(type: String)

        public init(arguments: [String]) throws {
            guard arguments.count == 5 else {
                throw UsageError("uacme's hook takes 5 arguments (method type ident token key_auth), not \(arguments.count): run this as uacme -h.", code: .notFromClient)
            }
            let (method, type) = (arguments[0], arguments[1])
            guard ["begin", "done", "failed"].contains(method) else {
                throw UsageError("'\(method)' is not a uacme hook method (begin, done or failed).")
            }
            guard type == "dns-01" else {
                self = .decline(type: type)
                return
            }
            let challenge = try ClientHook.Challenge(domain: arguments[2], value: arguments[4], from: "uacme's \(method)")
            self = method == "begin" ? .begin(challenge) : .end(challenge)
        }
    }

    public let config: Configuration
    let events: EventSink

    public init(config: Configuration, events: @escaping EventSink) {
        self.config = config
        self.events = events
    }

    /// Runs one call. Returns false when the challenge is declined (the command exits 1
    /// without a message: declining other types is uacme's normal course).
    public func run(_ call: Call, clientProcess: Int32 = UacmeHook.uacmeProcess()) async throws -> Bool {
        let hook = ClientHook(config: config, events: events, clientProcess: clientProcess)
        switch call {
        case .decline:
            return false
        case .begin(let challenge):
            try await hook.start()
            try await hook.presentAndWait([challenge])
        case .end(let challenge):
            try await hook.start()
            try await hook.remove([challenge])
        }
        return true
    }

    /// The uacme process that runs this hook (uacme executes the hook program directly).
    public static func uacmeProcess() -> Int32 {
        ClientHook.clientProcess(named: ["uacme"])
    }
}
