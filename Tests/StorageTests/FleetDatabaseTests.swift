import Foundation
@testable import Storage
import TestLab
import Testing

/// Issue 19: the Storage module's PostgreSQL side against a real server (TestLab's
/// `PostgreSQLServer`: initdb + postgres on a free loopback port): schema migrations, version
/// numbering and the live pointer, journal liveness by session, advisory locks and who holds
/// them, sealed keys, and errors that never carry the password.
@Suite("fleet database") struct FleetDatabaseTests {
    static let sealing = SealingKey(bytes: Array(repeating: 7, count: 32))

    static func open(_ server: PostgreSQLServer, sealing: SealingKey = sealing, migrate: Bool = true) async throws -> FleetDatabase {
        let url = server.url
        return try await blocking { try FleetDatabase(connectionString: url, sealing: sealing, migrate: migrate) }
    }

    /// Every libpq call and psql run blocks its thread: off the cooperative pool, which the other
    /// suites running beside this one need (it has one thread per core).
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await PostgreSQLServer.offPool(body)
    }

    /// A chain of one self-signed certificate (the database does not look inside it).
    static let chain = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    static let key = "-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----\n"

    @Test func concurrentConnectsMigrateOnce() async throws {
        let server = try await PostgreSQLServer.start()
        defer { server.stopAndRemove() }
        let databases = try await withThrowingTaskGroup(of: FleetDatabase.self) { group in
            for _ in 0..<4 { group.addTask { try await Self.open(server) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        defer { for database in databases { database.close() } }
        // Each schema version applied once (schema 2 of "Trust, round two" came after 1).
        #expect(try await Self.blocking { try server.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM dns01_schema") }
                == (1...FleetDatabase.schemaVersion).map(String.init).joined(separator: ","))
        #expect(try await Self.blocking { try server.psql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'dns01_%'") } == "7")  // 7 with dns01_acmedns (schema 3)
    }

    @Test func aNewerSchemaIsRefusedInOneSentence() async throws {
        let server = try await PostgreSQLServer.start()
        defer { server.stopAndRemove() }
        try await Self.open(server).close()
        _ = try await Self.blocking { try server.psql("INSERT INTO dns01_schema VALUES (99)") }
        await #expect {
            try await Self.open(server)
        } throws: { error in
            let text = "\(error)"
            return (error as? PostgresError)?.code == .schemaTooNew && text.contains("schema 99") && text.contains("upgrade dns01")
        }
    }

    @Test func versionsAreNumberedAndSyncSeesOnlyChanges() async throws {
        let server = try await PostgreSQLServer.start()
        defer { server.stopAndRemove() }
        let database = try await Self.open(server)
        defer { database.close() }
        let notAfter = Date(timeIntervalSince1970: 1_900_000_000)
        #expect(try await Self.blocking { try database.storeVersion(name: "web", chainPEM: Self.chain, keyPEM: Self.key, names: ["a.test", "*.a.test"], notAfter: notAfter) } == 1)
        #expect(try await Self.blocking { try database.storeVersion(name: "web", chainPEM: Self.chain, keyPEM: nil, names: ["a.test"], notAfter: notAfter) } == 2)
        let changed = try await Self.blocking { try database.changedLiveVersions(known: [("web", 1), ("other", nil)]) }.versions
        #expect(changed.map(\.version) == [2])
        #expect(changed.first?.keyPEM == nil)
        #expect(try await Self.blocking { try database.changedLiveVersions(known: [("web", 2)]) }.versions.isEmpty)
        let first = try #require(try await Self.blocking { try database.versions(of: "web") }.first)
        #expect(first.keyPEM == Self.key && first.names == ["a.test", "*.a.test"] && first.notAfter == notAfter)
        #expect(try await Self.blocking { try server.psql("SELECT live_version FROM dns01_certificates WHERE name = 'web'") } == "2")
    }

    @Test func aKeyMovedToAnotherRowDoesNotOpen() async throws {
        let server = try await PostgreSQLServer.start()
        defer { server.stopAndRemove() }
        let database = try await Self.open(server)
        defer { database.close() }
        for _ in 0..<2 { _ = try await Self.blocking { try database.storeVersion(name: "web", chainPEM: Self.chain, keyPEM: Self.key, names: ["a.test"], notAfter: Date()) } }
        #expect(try await Self.blocking { try server.psql("SELECT count(*) FROM dns01_versions WHERE encode(key_sealed, 'escape') LIKE '%PRIVATE KEY%'") } == "0")
        _ = try await Self.blocking { try server.psql("UPDATE dns01_versions SET key_sealed = (SELECT key_sealed FROM dns01_versions WHERE version = 1) WHERE version = 2") }
        #expect { try database.versions(of: "web") } throws: { error in
            (error as? PostgresError)?.code == .sealing && "\(error)".contains("web version 2")
        }
        let other = try await Self.open(server, sealing: SealingKey(bytes: Array(repeating: 8, count: 32)))
        defer { other.close() }
        // Item 7 of "Trust, round two": sync gets the unreadable version back, named, instead of
        // an error that hides every other certificate.
        let unreadable = try await Self.blocking { try other.changedLiveVersions(known: [("web", nil)]) }
        #expect(unreadable.versions.isEmpty)
        #expect(unreadable.unreadable.map(\.name) == ["web"] && unreadable.unreadable.first?.version == 2)
        #expect(unreadable.unreadable.first?.error.code == .sealing)
    }

    /// "Trust, round two", item 6: a sealed key is bound to its row's chain and names too. A
    /// chain swapped between two certificates' rows, or names changed, with psql: neither key
    /// opens, and sync gets both back as unreadable, named, instead of a foreign chain.
    @Test func aChainOrNamesChangedInTheDatabaseMakeTheKeyFailToOpen() async throws {
        let server = try await PostgreSQLServer.start()
        defer { server.stopAndRemove() }
        let database = try await Self.open(server)
        defer { database.close() }
        let otherChain = "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n"
        let rows = [("web", Self.chain, "a.test"), ("mail", otherChain, "m.test"), ("www", Self.chain, "w.test")]
        for (name, chain, domain) in rows {
            _ = try await Self.blocking { try database.storeVersion(name: name, chainPEM: chain, keyPEM: Self.key, names: [domain], notAfter: Date()) }
        }
        let known: [(name: String, version: Int?)] = rows.map { ($0.0, nil) }
        #expect(try await Self.blocking { try database.changedLiveVersions(known: known) }.versions.count == 3)
        _ = try await Self.blocking { try server.psql("""
            UPDATE dns01_versions v SET chain = o.chain FROM dns01_versions o
            WHERE v.name IN ('web', 'mail') AND o.name IN ('web', 'mail') AND o.name <> v.name
            """) }
        _ = try await Self.blocking { try server.psql("UPDATE dns01_versions SET names = '{evil.test}' WHERE name = 'www'") }
        let changes = try await Self.blocking { try database.changedLiveVersions(known: known) }
        #expect(changes.versions.isEmpty, "\(changes.versions.map(\.name))")
        #expect(Set(changes.unreadable.map(\.name)) == ["web", "mail", "www"])
        for failure in changes.unreadable {
            #expect(failure.version == 1 && failure.error.code == .sealing)
            #expect("\(failure.error)".contains("The private key of \(failure.name) version 1 in PostgreSQL at"), "\(failure.error)")
        }
    }

    /// Schema 1 (the previous release) sealed keys bound to name and version only. Migrating
    /// re-seals every key that opens with this machine's key file, binding it to its chain and
    /// names; a key that does not (another fleet's key file) is left as it was, and still opens
    /// for the machines it was sealed for. Nothing of the previous release becomes unreadable.
    @Test func keysSealedBySchemaOneStayReadableAndAreBoundWhenMigrated() async throws {
        let server = try await PostgreSQLServer.start()
        defer { server.stopAndRemove() }
        let foreign = SealingKey(bytes: Array(repeating: 8, count: 32))
        var script = "BEGIN;\nCREATE TABLE dns01_schema (version integer NOT NULL);\nINSERT INTO dns01_schema VALUES (1);\n"
        script += FleetDatabase.migrations[0].map { $0 + ";\n" }.joined()
        for (name, sealing) in [("web", Self.sealing), ("other", foreign)] {
            let sealed = try sealing.seal(Self.key, context: "dns01 certificate key \(name) version 1")
            script += """
                INSERT INTO dns01_certificates (name, live_version) VALUES ('\(name)', 1);
                INSERT INTO dns01_versions (name, version, chain, key_sealed, names, not_after, created_by)
                VALUES ('\(name)', 1, '\(Self.chain)', '\\x\(Hex.encode(sealed))', '{a.test}', now() + interval '30 days', 'dns01 1.0');

                """
        }
        let previousRelease = script + "COMMIT;"
        _ = try await Self.blocking { try server.psql(previousRelease) }

        // `dns01 sync` connects without migrating; its one query meets schema 1 (no key_binding
        // column), migrates, and asks again.
        let database = try await Self.open(server, migrate: false)
        defer { database.close() }
        let synced = try await Self.blocking { try database.changedLiveVersions(known: [("web", nil), ("other", nil)]) }
        #expect(synced.versions.map(\.name) == ["web"] && synced.versions.first?.keyPEM == Self.key)
        #expect(synced.unreadable.map(\.name) == ["other"])
        #expect(try await Self.blocking { try server.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM dns01_schema") }
                == (1...FleetDatabase.schemaVersion).map(String.init).joined(separator: ","))
        #expect(try await Self.blocking { try server.psql("SELECT name, key_binding FROM dns01_versions ORDER BY name") } == "other|1\nweb|2")
        #expect(try await Self.blocking { try database.versions(of: "web") }.first?.keyPEM == Self.key)
        let otherFleet = try await Self.open(server, sealing: foreign)
        defer { otherFleet.close() }
        #expect(try await Self.blocking { try otherFleet.versions(of: "other") }.first?.keyPEM == Self.key)

        // Bound now: another chain in web's row, and its key does not open.
        _ = try await Self.blocking { try server.psql("UPDATE dns01_versions SET chain = replace(chain, 'MIIB', 'MIIC') WHERE name = 'web'") }
        let changes = try await Self.blocking { try database.changedLiveVersions(known: [("web", nil)]) }
        #expect(changes.versions.isEmpty && changes.unreadable.map(\.name) == ["web"])
    }

    @Test func journalRowsLiveAsLongAsTheirWritersSession() async throws {
        let server = try await PostgreSQLServer.start()
        defer { server.stopAndRemove() }
        let writer = try await Self.open(server), reader = try await Self.open(server)
        defer { reader.close() }
        let id = try await Self.blocking { try writer.addJournalRow(recordsJSON: "[]") }
        let seen = try #require(try await Self.blocking { try reader.journalRows() }.first { $0.id == id })
        #expect(seen.ownerAlive && !seen.mine && seen.owner.hasPrefix("dns01 on "))
        #expect(try await Self.blocking { try writer.journalRows() }.first { $0.id == id }?.mine == true)
        let other = try await Self.blocking { try writer.addJournalRow(recordsJSON: "[]") }
        try await Self.blocking { try reader.recordJournalFailure(id: other, reason: "refused", retryAfter: Date(timeIntervalSince1970: 2_000_000_000)) }
        let failed = try await Self.blocking { try reader.journalRows(id: other) }
        #expect(failed.map(\.id) == [other] && failed.first?.failures == 1 && failed.first?.lastError == "refused")
        #expect(failed.first?.retryAfter == Date(timeIntervalSince1970: 2_000_000_000))
        writer.close()
        // The server ends the backend when the socket closes; the lock goes with it.
        var alive = true
        for _ in 0..<200 where alive {
            alive = try await Self.blocking { try reader.journalRows() }.first { $0.id == id }?.ownerAlive ?? false
            if alive { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(!alive)
        try await Self.blocking { try reader.editJournal { rows in rows.map { ($0.id, nil) } } }
        #expect(try await Self.blocking { try reader.journalRows() }.isEmpty)
    }

    @Test func aHeldCertificateLockNamesItsHolderAndDiesWithIt() async throws {
        let server = try await PostgreSQLServer.start()
        defer { server.stopAndRemove() }
        let holder = try await Self.open(server), other = try await Self.open(server)
        defer { other.close() }
        #expect(try await Self.blocking { try holder.tryLockCertificate("web") })
        #expect(try await !Self.blocking { try other.tryLockCertificate("web") })
        #expect(try await Self.blocking { try other.tryLockCertificate("mail") })
        let named = try #require(try await Self.blocking { try other.certificateLockHolder("web") })
        #expect(named.contains(holder.ownerName) && named.contains("from 127.0.0.1"))
        #expect(try await !Self.blocking { try other.lockCertificate("web", waitingAtMost: 1) })
        holder.close()
        #expect(try await Self.blocking { try other.lockCertificate("web", waitingAtMost: 10) })
    }

    @Test func errorsNeverCarryThePassword() async throws {
        let server = try await PostgreSQLServer.start()
        defer { server.stopAndRemove() }
        let secret = "pw-\(UUID().uuidString)"
        for connection in ["postgresql://\(server.user):\(secret)@\(server.host):\(server.port)/\(server.database)",
                           "host=\(server.host) port \(server.port) password=\(secret)",
                           "host=\(server.host) port=\(server.port) user=\(server.user) password \(secret)"] {
            #expect(throws: PostgresError.self) {
                try FleetDatabase(connectionString: connection, sealing: Self.sealing)
            }
            do {
                _ = try await Self.blocking { try FleetDatabase(connectionString: connection, sealing: Self.sealing) }
            } catch {
                #expect(!"\(error)".contains(secret), "\(error)")
                #expect("\(error)".contains("PostgreSQL"))
            }
        }
    }

    @Test func aRestartedServerIsALostConnection() async throws {
        let server = try await PostgreSQLServer.start()
        defer { server.stopAndRemove() }
        let database = try await Self.open(server)
        defer { database.close() }
        try await server.restart()
        #expect { try database.storeVersion(name: "web", chainPEM: Self.chain, keyPEM: Self.key, names: ["a.test"], notAfter: Date()) } throws: { error in
            (error as? PostgresError)?.code == .connectionLost && "\(error)".hasPrefix("Lost the connection to PostgreSQL at 127.0.0.1:")
        }
        let fresh = try await Self.open(server)
        defer { fresh.close() }
        #expect(try await Self.blocking { try fresh.certificates() }.isEmpty)
    }
}
