import ACME
import DNS
import FoundationEssentials
import Glibc

/// lego's `exec` DNS provider contract (lego's providers/dns/exec; `EXEC_PATH=PROGRAM lego
/// --dns exec ...`), in both of its forms:
///
/// - default: `PROGRAM present|cleanup FQDN VALUE`: FQDN is the record name with a trailing dot
///   (`_acme-challenge.example.com.`, or where lego followed its CNAME), VALUE the TXT value;
/// - `EXEC_MODE=RAW`: `PROGRAM present|cleanup -- DOMAIN TOKEN KEY_AUTH`: the identifier (a
///   wildcard's with `*.`), the challenge token and the key authorization, from which dns01
///   makes the TXT value itself (base64url of its SHA-256 digest, RFC 8555 §8.4).
///
/// `present` writes the record and waits until every nameserver address serves it; `cleanup`
/// removes exactly that value. lego calls one challenge at a time and checks propagation itself
/// after `present` (`EXEC_PROPAGATION_TIMEOUT`, `EXEC_POLLING_INTERVAL`): the records are
/// already at every nameserver then, so its check passes at once (or `--dns.disable-cp` skips
/// it). Its `EXEC_SEQUENCE_INTERVAL` pause between challenges (60 s by default) waits for
/// nothing dns01 has not waited for: set it to 1.
public struct LegoHook: Sendable {
    public enum Call: Equatable, Sendable {
        case present(Record)
        case cleanup(Record)
    }

    /// The record of one call: where and which value; `domain` names it in messages.
    public struct Record: Equatable, Sendable {
        /// Where lego put (or would put) the record; nil in RAW mode, where dns01 finds it from
        /// `domain` as for its own challenges (following `_acme-challenge` CNAMEs).
        public var name: String?
        public var domain: String
        public var value: String
    }

    /// Parses lego's arguments. Two after the command: the default form; three (after an
    /// optional `--`): RAW.
    public static func parse(_ arguments: [String]) throws -> Call {
        guard let command = arguments.first, command == "present" || command == "cleanup" else {
            throw UsageError("lego's exec provider calls this with present or cleanup first (got \(arguments.first.map { "'\($0)'" } ?? "nothing")): run it as EXEC_PATH of `lego --dns exec`.", code: .notFromClient)
        }
        var rest = Array(arguments.dropFirst())
        if rest.first == "--" { rest.removeFirst() }
        let record: Record
        switch rest.count {
        case 2:
            let name: String
            do {
                name = try DomainName.normalize(rest[0], allowUnderscore: true)
            } catch let error as DNSError {
                throw UsageError("The record name lego's \(command) gave is not usable: \(error.message)")
            }
            guard Journal.isChallengeValue(rest[1]) else {
                throw UsageError("The TXT value lego's \(command) gave for \(name) is not a dns-01 value (43 base64url characters).")
            }
            let prefix = "_acme-challenge."
            record = Record(name: name, domain: name.hasPrefix(prefix) ? String(name.dropFirst(prefix.count)) : name, value: rest[1])
        case 3:
            let (token, keyAuthorization) = (rest[1], rest[2])
            // A key authorization is the token, '.', and the account key's thumbprint (RFC 8555 §8.1).
            guard !token.isEmpty, keyAuthorization.utf8.count <= 512, keyAuthorization.hasPrefix(token + "."),
                  keyAuthorization.utf8.allSatisfy({ Self.base64URL($0) || $0 == UInt8(ascii: ".") }) else {
                throw UsageError("The key authorization lego's \(command) gave for \(rest[0]) is not its token followed by '.' and a thumbprint.")
            }
            let challenge = try ClientHook.Challenge(domain: rest[0], value: KeyAuthorization.dns01Value(keyAuthorization: keyAuthorization),
                                                     from: "lego's \(command)")
            record = Record(name: nil, domain: challenge.domain, value: challenge.value)
        default:
            throw UsageError("lego's exec provider passes FQDN VALUE (or, with EXEC_MODE=RAW, -- DOMAIN TOKEN KEY_AUTH) after \(command), not \(rest.count) argument(s).", code: .notFromClient)
        }
        return command == "present" ? .present(record) : .cleanup(record)
    }

    static func base64URL(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x5F
    }

    public let config: Configuration
    let events: EventSink

    public init(config: Configuration, events: @escaping EventSink) {
        self.config = config
        self.events = events
    }

    public func run(_ call: Call, clientProcess: Int32 = ClientHook.clientProcess(named: ["lego"])) async throws {
        let hook = ClientHook(config: config, events: events, clientProcess: clientProcess)
        try await hook.start()
        switch call {
        case .present(let record):
            try await hook.presentAndWait([try await challengeRecord(record, hook: hook)], client: "lego")
        case .cleanup(let record):
            try await hook.remove([try await challengeRecord(record, hook: hook)])
        }
    }

    /// Where the value goes: lego's record name as given (its CNAMEs followed again, to the zone
    /// and provider), or, in RAW mode, the identifier's challenge name.
    func challengeRecord(_ record: Record, hook: ClientHook) async throws -> ChallengeRecord {
        guard let name = record.name else {
            return try await hook.records(for: [ClientHook.Challenge(domain: record.domain, value: record.value, from: "lego")])[0]
        }
        return ChallengeRecord(target: try await hook.deployer.target(recordAt: name, domain: record.domain), value: record.value)
    }
}
