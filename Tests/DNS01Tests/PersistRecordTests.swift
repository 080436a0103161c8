@testable import DNS01
import Foundation
import Testing

/// dns-persist-01 records (draft-ietf-acme-dns-persist-01 §4.1, §5, §6; -02 §10.2 for hashed
/// account URIs): the draft's examples as vectors, the parser's bounds, and the rules that say
/// whether a record lets a CA issue to an account.
@Suite("dns-persist-01 records")
struct PersistRecordTests {
    static let account = "https://ca.example/acct/123"
    static let issuers = ["authority.example", "ca.example.net"]
    static let now = Date(timeIntervalSince1970: 1_764_000_000)

    struct Vector: Sendable, CustomTestStringConvertible {
        var text: String
        var issuer: String
        var accountURI: String?
        var wildcard: Bool
        var persistUntil: Int64?
        var parameters: Int
        var testDescription: String { text }
    }

    /// The draft's figures (the character-strings joined, RFC 1035 §3.3.14), and spellings the
    /// draft and RFC 8659 §4.2 allow.
    static let vectors: [Vector] = [
        // -01 Figure 2 ("authority.example;" " accounturi=https://ca.example/acct/123").
        .init(text: "authority.example; accounturi=https://ca.example/acct/123", issuer: "authority.example",
              accountURI: account, wildcard: false, persistUntil: nil, parameters: 1),
        // -01 Figure 3, both records.
        .init(text: "ca1.example; accounturi=https://ca1.example/acme/acct/12345; policy=wildcard", issuer: "ca1.example",
              accountURI: "https://ca1.example/acme/acct/12345", wildcard: true, persistUntil: nil, parameters: 2),
        .init(text: "ca2.example; accounturi=https://ca2.example/acme/acct/67890; persistUntil=1767225600", issuer: "ca2.example",
              accountURI: "https://ca2.example/acme/acct/67890", wildcard: false, persistUntil: 1_767_225_600, parameters: 2),
        // -02 Figure 10: a hashed account URI, wildcard policy and persistUntil.
        .init(text: "authority.example; accounturi=https://ca.example/account-hash/sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw; policy=wildcard; persistUntil=1721952000",
              issuer: "authority.example", accountURI: "https://ca.example/account-hash/sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw",
              wildcard: true, persistUntil: 1_721_952_000, parameters: 3),
        // No spaces, tabs, a trailing ";", an empty part, upper case tags and policy value.
        .init(text: "authority.example;accounturi=https://ca.example/acct/123", issuer: "authority.example",
              accountURI: account, wildcard: false, persistUntil: nil, parameters: 1),
        .init(text: "\tauthority.example ;\taccounturi = https://ca.example/acct/123 ; ", issuer: "authority.example",
              accountURI: account, wildcard: false, persistUntil: nil, parameters: 1),
        .init(text: "authority.example;; AccountURI=https://ca.example/acct/123; POLICY=WildCard; PERSISTUNTIL=5", issuer: "authority.example",
              accountURI: account, wildcard: true, persistUntil: 5, parameters: 3),
        // Unknown parameters are kept and ignored (§4.1 item 1); so is an unknown policy.
        .init(text: "authority.example; accounturi=https://ca.example/acct/123; future-tag=x=y; policy=subdomains", issuer: "authority.example",
              accountURI: account, wildcard: false, persistUntil: nil, parameters: 3),
        // An issuer alone parses (and authorizes nothing: no accounturi).
        .init(text: "authority.example;", issuer: "authority.example", accountURI: nil, wildcard: false, persistUntil: nil, parameters: 0),
        // A persistUntil past Int64 means never.
        .init(text: "authority.example; accounturi=a; persistUntil=123456789012345678901234567890", issuer: "authority.example",
              accountURI: "a", wildcard: false, persistUntil: Int64.max, parameters: 2),
        // Leading zeros do not make a small number large (acme2certifier reads it as 1).
        .init(text: "authority.example; accounturi=a; persistUntil=000000000000000000000000001", issuer: "authority.example",
              accountURI: "a", wildcard: false, persistUntil: 1, parameters: 2),
        .init(text: "authority.example; accounturi=a; persistUntil=0000", issuer: "authority.example",
              accountURI: "a", wildcard: false, persistUntil: 0, parameters: 2),
    ]

    @Test(arguments: vectors)
    func parsesTheDraftsRecords(_ vector: Vector) throws {
        let record = try PersistRecord(parsing: vector.text)
        #expect(record.issuer == vector.issuer)
        #expect(record.accountURI == vector.accountURI)
        #expect(record.allowsWildcard == vector.wildcard)
        #expect(record.persistUntilSeconds == vector.persistUntil)
        #expect(record.parameters.count == vector.parameters)
        // What it writes back parses to the same record.
        #expect(try PersistRecord(parsing: record.text) == record)
    }

    /// Malformed (§9.3.1): the CA answers `malformed`, so the record authorizes nothing.
    @Test(arguments: [
        "", "   ", "\t",
        ";accounturi=https://ca.example/acct/123",
        "accounturi=https://ca.example/acct/123",
        "authority.example; accounturi",
        "authority.example; accounturi=a; policy",
        "authority.example; =a",
        "authority.example; accounturi=a; AccountURI=b",
        "authority.example; accounturi=a; persistUntil=",
        "authority.example; accounturi=a; persistUntil=17e8",
        "authority.example; accounturi=a; persistUntil=-1",
        "authority.example; accounturi=a; persistUntil=+1",
        "authority.example; accounturi=a; persistUntil=1 2",
        "authority.example; accounturi=a; persistUntil=١٢٣",
        "authority.example; accounturi=a; " + String(repeating: "x", count: PersistRecord.maximumLength),
        "authority.example" + (0...PersistRecord.maximumParameters).map { "; t\($0)=v" }.joined(),
    ])
    func rejectsMalformedValues(_ text: String) {
        #expect(throws: PersistRecord.Malformed.self) { try PersistRecord(parsing: text) }
    }

    @Test func writesTheDraftsSyntax() throws {
        let plain = try PersistRecord(issuer: "authority.example", accountURI: Self.account)
        #expect(plain.text == "authority.example; accounturi=https://ca.example/acct/123")
        let full = try PersistRecord(issuer: "Authority.Example.", accountURI: Self.account, wildcard: true,
                                     persistUntil: Date(timeIntervalSince1970: 1_721_952_000.9))
        #expect(full.text == "authority.example; accounturi=https://ca.example/acct/123; policy=wildcard; persistUntil=1721952000")
        #expect(full.persistUntilSeconds == 1_721_952_000)
        #expect(throws: PersistRecord.Malformed.self) { try PersistRecord(issuer: "not a name", accountURI: Self.account) }
        for bad in ["", "https://ca.example/acct/1 2", "https://ca.example/acct;1", "https://ca.example/äcct"] {
            #expect(throws: PersistRecord.Malformed.self, "\(bad)") { try PersistRecord(issuer: "authority.example", accountURI: bad) }
        }
    }

    @Test func validationNameIsTheBaseName() {
        #expect(PersistRecord.validationName(for: "example.com") == "_validation-persist.example.com")
        #expect(PersistRecord.validationName(for: "*.Example.COM.") == "_validation-persist.example.com")
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var record: String
        var name: String
        var wildcard = false
        var validatedName: String? = nil
        var accounts = [PersistRecordTests.account]
        var verdict: PersistRecord.Verdict
        var testDescription: String { "\(record) for \(wildcard ? "*." : "")\(name)" }
    }

    static let plain = "authority.example; accounturi=https://ca.example/acct/123"
    static let wild = "authority.example; accounturi=https://ca.example/acct/123; policy=wildcard"

    static let cases: [Case] = [
        .init(record: plain, name: "example.com", verdict: .authorizes),
        // The second issuer name of the challenge counts as much as the first; case does not matter.
        .init(record: "CA.example.NET; accounturi=https://ca.example/acct/123", name: "example.com", verdict: .authorizes),
        // Another CA's record is ignored (§4.3.2); a trailing dot is not the CA's name either.
        .init(record: "other.example; accounturi=https://ca.example/acct/123", name: "example.com", verdict: .otherIssuer("other.example")),
        .init(record: "authority.example.; accounturi=https://ca.example/acct/123", name: "example.com", verdict: .otherIssuer("authority.example.")),
        // Account URIs compare exactly (RFC 3986 §6.2.1).
        .init(record: "authority.example; accounturi=https://ca.example/acct/124", name: "example.com",
              verdict: .otherAccount("https://ca.example/acct/124")),
        .init(record: "authority.example; accounturi=HTTPS://CA.EXAMPLE/acct/123", name: "example.com",
              verdict: .otherAccount("HTTPS://CA.EXAMPLE/acct/123")),
        .init(record: "authority.example; accounturi=https://ca.example/acct/123/", name: "example.com",
              verdict: .otherAccount("https://ca.example/acct/123/")),
        .init(record: "authority.example; policy=wildcard", name: "example.com", verdict: .noAccount),
        // persistUntil: valid up to and including the second (acme2certifier: expired when < now).
        .init(record: plain + "; persistUntil=1763999999", name: "example.com", verdict: .expired(Date(timeIntervalSince1970: 1_763_999_999))),
        .init(record: plain + "; persistUntil=1764000000", name: "example.com", verdict: .authorizes),
        .init(record: plain + "; persistUntil=0", name: "example.com", verdict: .expired(Date(timeIntervalSince1970: 0))),
        // Without policy=wildcard: the name only (§5.1, §6.2).
        .init(record: plain, name: "example.com", wildcard: true, verdict: .needsWildcardPolicy),
        .init(record: plain, name: "*.example.com", verdict: .needsWildcardPolicy),
        .init(record: plain, name: "www.example.com", validatedName: "example.com", verdict: .needsWildcardPolicy),
        .init(record: plain + "; policy=subdomains", name: "*.example.com", verdict: .needsWildcardPolicy),
        // With it: the name, its wildcard, every name below, wildcards below (§6.3).
        .init(record: wild, name: "example.com", verdict: .authorizes),
        .init(record: wild, name: "*.example.com", verdict: .authorizes),
        .init(record: wild, name: "example.com", wildcard: true, verdict: .authorizes),
        .init(record: "authority.example; accounturi=https://ca.example/acct/123; Policy=WILDCARD", name: "*.example.com", verdict: .authorizes),
        .init(record: wild, name: "server.dept.example.com", validatedName: "example.com", verdict: .authorizes),
        .init(record: wild, name: "*.dept.example.com", validatedName: "example.com", verdict: .authorizes),
        .init(record: wild, name: "otherexample.com", validatedName: "example.com", verdict: .outOfScope),
        .init(record: wild, name: "example.net", validatedName: "example.com", verdict: .outOfScope),
        // Expiry and account are checked before scope.
        .init(record: wild + "; persistUntil=1", name: "*.example.com", verdict: .expired(Date(timeIntervalSince1970: 1))),
        // Several acceptable account URIs (the URL, and -02 hashed forms).
        .init(record: plain, name: "example.com", accounts: ["https://ca.example/acct/1", account], verdict: .authorizes),
        .init(record: plain, name: "example.com", accounts: [], verdict: .otherAccount(account)),
    ]

    @Test(arguments: cases)
    func judgesRecords(_ test: Case) throws {
        let record = try PersistRecord(parsing: test.record)
        let verdict = record.verdict(name: test.name, wildcard: test.wildcard, validatedName: test.validatedName,
                                     issuerNames: Self.issuers, accountURIs: test.accounts, now: Self.now)
        #expect(verdict == test.verdict)
        #expect(!verdict.description.isEmpty)
        if test.accounts == [Self.account] {
            #expect(record.authorizes(name: test.name, wildcard: test.wildcard, validatedName: test.validatedName,
                                      issuerNames: Self.issuers, accountURL: Self.account, now: Self.now) == (test.verdict == .authorizes))
        }
    }

    /// -02 §10.2's test vector, and the domain-omitted form.
    @Test func hashedAccountURIMatchesTheDraftVector() throws {
        let prefix = "https://ca.example/account-hash/", thumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        let hashed = try #require(PersistRecord.hashedAccountURI(prefix: prefix, domain: "Example.COM.", thumbprint: thumbprint, accountURL: Self.account))
        #expect(hashed == "https://ca.example/account-hash/sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw")
        #expect(PersistRecord.hashedAccountURI(prefix: prefix, domain: "*", thumbprint: thumbprint, accountURL: Self.account)
                == "https://ca.example/account-hash/sha-256/NpDnSwUthQK8zCgFdefYxAdAVPnygMLbs9US6oO-5ug")
        #expect(PersistRecord.hashedAccountURI(prefix: prefix, domain: String(repeating: "a", count: 256), thumbprint: thumbprint,
                                               accountURL: Self.account) == nil)
        let record = try PersistRecord(parsing: "authority.example; accounturi=\(hashed); policy=wildcard")
        #expect(record.verdict(name: "*.example.com", issuerNames: Self.issuers, accountURIs: [Self.account, hashed], now: Self.now) == .authorizes)
    }

    @Test(arguments: [
        ("2027-01-31", 1_801_353_600.0),
        ("2027-01-31T12:00:00Z", 1_801_396_800.0),
        ("2027-01-31T12:00:00+02:00", 1_801_389_600.0),
        ("2027-01-31T12:00:00.500Z", 1_801_396_800.5),
    ])
    func untilTakesISO8601(_ text: String, _ seconds: Double) throws {
        #expect(try PersistActions.parseUntil(text, now: Self.now).timeIntervalSince1970 == seconds)
    }

    @Test(arguments: ["2025-11-24", "2025-11-24T16:00:00Z", "1970-01-01", "tomorrow", "2027-13-01", "1801353600", ""])
    func untilRefusesThePastAndNonDates(_ text: String) {
        #expect(throws: UsageError.self) { try PersistActions.parseUntil(text, now: Self.now) }
    }

    /// "*.NAME" is NAME with policy=wildcard; NAME and *.NAME together are one record.
    @Test func wildcardNamesShareTheirBaseRecord() {
        let bases = PersistActions.bases(["www.example.com", "*.www.example.com", "*.api.example.com", "example.com"], wildcard: false)
        #expect(bases.map { $0.name } == ["www.example.com", "api.example.com", "example.com"])
        #expect(bases.map { $0.wildcard } == [true, true, false])
        #expect(PersistActions.bases(["example.com"], wildcard: true).map { $0.wildcard } == [true])
    }
}
