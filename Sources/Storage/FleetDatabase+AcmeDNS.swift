import FoundationEssentials
import Glibc

/// `dns01 serve`'s registrations in the fleet's database (`[storage] type = "postgres"`): one
/// row each in `dns01_acmedns` (schema 3), so several `serve` instances behind a load balancer
/// share them. The password is stored as its bcrypt hash, as in the directory backend.
extension FleetDatabase: AcmeDNSRegistrationStore {
    public func add(_ registration: AcmeDNSRegistration) throws {
        try connection.query("""
            INSERT INTO dns01_acmedns (username, password_hash, subdomain, allow_from, txt_values, created)
            VALUES ($1, $2, $3, $4, $5, to_timestamp($6))
            """, [.text(registration.username), .text(registration.passwordHash), .text(registration.subdomain),
                  .text(Self.jsonList(registration.allowFrom)), .text(Self.jsonList(registration.values)), .int(registration.created)])
    }

    public func registration(username: String) throws -> AcmeDNSRegistration? {
        guard AcmeDNSRegistration.isUUID(username) else { return nil }
        let rows = try connection.query("""
            SELECT username, password_hash, subdomain, allow_from, txt_values, extract(epoch FROM created)::bigint AS created
            FROM dns01_acmedns WHERE username = $1
            """, [.text(username)])
        guard rows.count > 0 else { return nil }
        return AcmeDNSRegistration(username: try rows.requiredText(0, "username"), passwordHash: try rows.requiredText(0, "password_hash"),
                                   subdomain: try rows.requiredText(0, "subdomain"),
                                   allowFrom: Self.list(try rows.requiredText(0, "allow_from")),
                                   values: Self.list(try rows.requiredText(0, "txt_values")),
                                   created: Int64(try rows.int(0, "created") ?? 0))
    }

    public func setValues(_ values: [String], username: String) throws {
        try connection.query("UPDATE dns01_acmedns SET txt_values = $2, updated = now() WHERE username = $1",
                             [.text(username), .text(Self.jsonList(values))])
    }

    static func jsonList(_ values: [String]) -> String {
        (try? JSONEncoder().encode(values)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }

    static func list(_ text: String) -> [String] {
        (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
    }
}
