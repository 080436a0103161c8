import Blocking
import Crypto
import DNS01
import FoundationEssentials
import Glibc
import HummingbirdBcrypt
import Storage
import Synchronization

/// acme-dns's HTTP API (joohoi/acme-dns README, "API"), independent of the HTTP server: each
/// call takes what the request says and returns a status and a JSON body. Errors are acme-dns's
/// `{"error": "..."}` codes; every check runs before anything is written.
public struct AcmeDNSAPI: Sendable {
    public struct Reply: Sendable, Equatable {
        public var status: Int
        public var body: String
        /// A sentence for the access log saying why (never a secret).
        public var note: String

        static func error(_ status: Int, _ code: String, _ note: String) -> Reply {
            Reply(status: status, body: #"{"error":"\#(code)"}"#, note: note)
        }
    }

    public let settings: ServeSettings
    let store: any AcmeDNSRegistrationStore
    let batcher: UpdateBatcher
    let counters: ServeCounters
    /// SHA-256 of keys that verified, by username: bcrypt once per key and process, not per
    /// request (a /update burst would otherwise spend ~0.1 s of CPU each).
    private let verified = VerifiedKeys()

    public init(settings: ServeSettings, store: any AcmeDNSRegistrationStore, batcher: UpdateBatcher, counters: ServeCounters) {
        self.settings = settings
        self.store = store
        self.batcher = batcher
        self.counters = counters
    }

    struct RegisterRequest: Decodable { var allowfrom: [String]? }
    struct RegisterResponse: Encodable { var username, password, fulldomain, subdomain: String; var allowfrom: [String] }
    struct UpdateRequest: Decodable { var subdomain: String?; var txt: String? }

    /// `POST /register`: a new registration; the body is empty or `{"allowfrom": [CIDR, ...]}`.
    public func register(body: [UInt8]) async -> Reply {
        guard settings.allowRegister else {
            return .error(403, "registration_disabled", "registration is off ([serve] allow_register = false)")
        }
        var allowFrom: [String] = []
        if !body.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) {
            guard let request = try? JSONDecoder().decode(RegisterRequest.self, from: Data(body)) else {
                return .error(400, "malformed_json_payload", "the body is not a JSON object with an optional allowfrom list")
            }
            for entry in request.allowfrom ?? [] {
                guard entry.utf8.count <= 64, let cidr = CIDR(entry) else {
                    return .error(400, "invalid_allowfrom_cidr", "allowfrom entry is not a CIDR")
                }
                allowFrom.append(cidr.description)
            }
            guard allowFrom.count <= 64 else { return .error(400, "invalid_allowfrom_cidr", "more than 64 allowfrom entries") }
        }
        let password = Self.randomPassword()
        let cost = UInt8(settings.bcryptCost)
        let hash = await BlockingPool.shared.run { Bcrypt.hash(password, cost: cost) }
        let registration = AcmeDNSRegistration(username: UUID().uuidString.lowercased(), passwordHash: hash,
                                               subdomain: UUID().uuidString.lowercased(), allowFrom: allowFrom,
                                               created: Int64(Date().timeIntervalSince1970))
        let store = self.store
        do {
            try await BlockingPool.shared.run { try store.add(registration) }
        } catch {
            return .error(500, "db_error", "cannot store the registration: \(error)")
        }
        counters.registrations.add(1, ordering: .relaxed)
        let response = RegisterResponse(username: registration.username, password: password,
                                        fulldomain: "\(registration.subdomain).\(settings.zone)",
                                        subdomain: registration.subdomain, allowfrom: allowFrom)
        return Reply(status: 201, body: Self.json(response), note: "registered \(registration.username) for \(registration.subdomain).\(settings.zone)")
    }

    /// `POST /update`: sets a TXT value of the caller's own subdomain, answered once it is
    /// served at every authoritative nameserver.
    public func update(user: String?, key: String?, client: [UInt8]?, body: [UInt8]) async -> Reply {
        let forbidden = Reply.error(401, "forbidden", "")
        guard let user, let key, AcmeDNSRegistration.isUUID(user), key.utf8.count == 40 else {
            return with(forbidden, "X-Api-User or X-Api-Key is missing or malformed")
        }
        let store = self.store
        let registration: AcmeDNSRegistration?
        do {
            registration = try await BlockingPool.shared.run { try store.registration(username: user) }
        } catch {
            return .error(500, "db_error", "cannot read registration \(user): \(error)")
        }
        guard let registration else {
            // As long as a wrong password takes: the answer says nothing about which usernames exist.
            _ = await BlockingPool.shared.run { Bcrypt.verify(key, hash: Self.decoyHash) }
            return with(forbidden, "no registration \(user)")
        }
        guard await keyMatches(key, registration) else { return with(forbidden, "wrong X-Api-Key for \(user)") }
        if !registration.allowFrom.isEmpty {
            let ranges = registration.allowFrom.compactMap(CIDR.init)
            guard let client, ranges.contains(where: { $0.contains(client) }) else {
                return with(forbidden, "\(user) may update only from \(registration.allowFrom.joined(separator: ", "))")
            }
        }
        guard let request = try? JSONDecoder().decode(UpdateRequest.self, from: Data(body)) else {
            return .error(400, "malformed_json_payload", "the body is not a JSON object with subdomain and txt")
        }
        guard let subdomain = request.subdomain, AcmeDNSRegistration.isUUID(subdomain.lowercased()) else {
            return .error(400, "bad_subdomain", "subdomain is missing or not a UUID")
        }
        guard subdomain.lowercased() == registration.subdomain else {
            return with(forbidden, "\(user) may write only \(registration.subdomain), not another subdomain")
        }
        guard let txt = request.txt, Self.isChallengeValue(txt) else {
            return .error(400, "bad_txt", "txt is not 43 base64url characters")
        }
        do {
            try await batcher.update(username: user, value: txt)
        } catch let failure as UpdateBatcher.Failure {
            switch failure.kind {
            case .propagation: return .error(504, "propagation_timeout", failure.message)
            case .storage: return .error(500, "db_error", failure.message)
            case .provider: return .error(502, "dns_error", failure.message)
            }
        } catch {
            return .error(500, "dns_error", "\(error)")
        }
        counters.updates.add(1, ordering: .relaxed)
        return Reply(status: 200, body: Self.json(["txt": txt]), note: "\(registration.subdomain).\(settings.zone) serves the value")
    }

    private func with(_ reply: Reply, _ note: String) -> Reply {
        var reply = reply
        reply.note = note
        return reply
    }

    private func keyMatches(_ key: String, _ registration: AcmeDNSRegistration) async -> Bool {
        let digest = Array(SHA256.hash(data: Array(key.utf8)))
        if let known = verified.keys.withLock({ $0[registration.username] }) {
            return zip(known, digest).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
        }
        let hash = registration.passwordHash
        guard await BlockingPool.shared.run({ Bcrypt.verify(key, hash: hash) }) else { return false }
        verified.keys.withLock { cache in
            if cache.count > 100_000 { cache.removeAll() }
            cache[registration.username] = digest
        }
        return true
    }

    /// A DNS-01 value: base64url of a SHA-256 digest, exactly 43 characters, no padding.
    public static func isChallengeValue(_ text: String) -> Bool {
        text.utf8.count == 43 && text.utf8.allSatisfy { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
    }

    /// 40 characters of [A-Za-z0-9-_] from the system's CSPRNG (acme-dns's password form).
    static func randomPassword() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var generator = SystemRandomNumberGenerator()
        return String(decoding: (0..<40).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] }, as: UTF8.self)
    }

    /// A bcrypt hash of nothing anyone knows, verified against when the username is unknown.
    static let decoyHash = Bcrypt.hash(randomPassword(), cost: 10)

    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

final class VerifiedKeys: Sendable {
    let keys = Mutex<[String: [UInt8]]>([:])
}
