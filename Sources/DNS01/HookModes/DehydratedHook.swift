import FoundationEssentials
import Glibc

/// dehydrated's hook script contract (its docs/examples/hook.sh), for `CHALLENGETYPE=dns-01`.
///
/// dehydrated runs `HOOK EVENT ARGS...` for every event. Only two concern DNS-01:
/// `deploy_challenge DOMAIN TOKEN_FILENAME TOKEN_VALUE` and `clean_challenge` with the same
/// arguments. With `HOOK_CHAIN=yes` one call carries every challenge of the certificate as
/// repeated triples: they are presented at once and waited for once. Without it dehydrated
/// calls once per name and each call waits for its own record. Either way every challenge is
/// deployed before the CA is asked, so a `single_value = true` provider cannot take a wildcard
/// and its apex: `ClientHook` refuses the call that would need the second value. Every other event
/// (`deploy_cert`, `unchanged_cert`, `startup_hook`, `exit_hook`, `generate_csr`, ... and the
/// names dehydrated invents to test that unknown events are ignored) does nothing and succeeds:
/// `generate_csr` in particular must print nothing, or dehydrated takes the output for a CSR.
public struct DehydratedHook: Sendable {
    /// One hook call.
    public enum Call: Equatable, Sendable {
        case deploy([ClientHook.Challenge])
        case clean([ClientHook.Challenge])
        /// Any other event: ignored.
        case ignored(String)

        /// Parses dehydrated's arguments: the event, then for the challenge events one or more
        /// (domain, token file name, TXT value) triples. dehydrated passes a wildcard's base
        /// name, without `*.`.
        public init(arguments: [String]) throws {
            guard let event = arguments.first else {
                throw UsageError("No hook event was given: run this as dehydrated's HOOK, which passes the event (deploy_challenge, clean_challenge, ...) and its arguments.", code: .notFromClient)
            }
            guard event == "deploy_challenge" || event == "clean_challenge" else {
                self = .ignored(event)
                return
            }
            let rest = Array(arguments.dropFirst())
            guard !rest.isEmpty, rest.count % 3 == 0 else {
                throw UsageError("dehydrated's \(event) got \(rest.count) argument(s), not (domain, token file name, TXT value) triples.")
            }
            let challenges = try stride(from: 0, to: rest.count, by: 3).map {
                try ClientHook.Challenge(domain: rest[$0], value: rest[$0 + 2], from: "dehydrated's \(event)")
            }
            self = event == "deploy_challenge" ? .deploy(challenges) : .clean(challenges)
        }
    }

    public let config: Configuration
    let events: EventSink

    public init(config: Configuration, events: @escaping EventSink) {
        self.config = config
        self.events = events
    }

    /// Runs one call; returns the number of records presented or removed.
    @discardableResult
    public func run(_ call: Call, clientProcess: Int32 = DehydratedHook.dehydratedProcess()) async throws -> Int {
        let hook = ClientHook(config: config, events: events, clientProcess: clientProcess)
        switch call {
        case .ignored:
            return 0
        case .deploy(let challenges):
            try await hook.start()
            return try await hook.presentAndWait(challenges, client: "dehydrated", deploysAllFirst: true).count
        case .clean(let challenges):
            try await hook.start()
            try await hook.remove(challenges)
            return challenges.count
        }
    }

    /// The dehydrated process that runs this hook (a bash script: "bash /usr/bin/dehydrated").
    public static func dehydratedProcess() -> Int32 {
        ClientHook.clientProcess(named: ["dehydrated"])
    }
}
