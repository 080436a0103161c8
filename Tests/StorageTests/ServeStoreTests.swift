import Foundation
import Storage
import Testing
import TestLab

/// `dns01 serve`'s registrations behind `AcmeDNSRegistrationStore`: the directory backend and
/// PostgreSQL (`dns01_acmedns`, schema 3) keep the same things and refuse the same things.
@Suite("acme-dns registration stores", .serialized) struct ServeStoreTests {
    static func exercise(_ store: any AcmeDNSRegistrationStore) async throws {
        let user = UUID().uuidString.lowercased(), subdomain = UUID().uuidString.lowercased()
        let registration = AcmeDNSRegistration(username: user, passwordHash: "$2b$10$abcdefghijklmnopqrstuv", subdomain: subdomain,
                                               allowFrom: ["192.0.2.0/24", "2001:db8::/32"], created: 1_790_000_000)
        try await FleetDatabaseTests.blocking { try store.add(registration) }
        // The same username again: refused, the first kept.
        let twin = AcmeDNSRegistration(username: user, passwordHash: "other", subdomain: UUID().uuidString.lowercased(),
                                       allowFrom: [], created: 1)
        await #expect(throws: (any Error).self) { try await FleetDatabaseTests.blocking { try store.add(twin) } }
        #expect(try await FleetDatabaseTests.blocking { try store.registration(username: user) } == registration)
        try await FleetDatabaseTests.blocking { try store.setValues(["a", "b"], username: user) }
        var expected = registration
        expected.values = ["a", "b"]
        #expect(try await FleetDatabaseTests.blocking { try store.registration(username: user) } == expected)
        #expect(try await FleetDatabaseTests.blocking { try store.registration(username: UUID().uuidString.lowercased()) } == nil)
    }

    @Test func directory() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("serve-store-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try await Self.exercise(DirectoryAcmeDNSRegistrationStore(stateDir: dir))
    }

    @Test func postgres() async throws {
        let server = try await PostgreSQLServer.start()
        defer { server.stopAndRemove() }
        let database = try await FleetDatabaseTests.open(server)
        defer { database.close() }
        try await Self.exercise(database)
        // A second machine sees the first one's registrations.
        let other = try await FleetDatabaseTests.open(server)
        defer { other.close() }
        let count = try await FleetDatabaseTests.blocking { try server.psql("SELECT count(*) FROM dns01_acmedns") }
        #expect(count == "1")
    }
}
