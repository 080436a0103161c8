import ACME
import DNS
import DNS01
import Foundation
import HTTP
import Providers
import Settings

/// The parsers of outside input, one entry each, as the libFuzzer targets (`Sources/Fuzz*`,
/// built with `DNS01_FUZZ=1`, run by `scripts/fuzz`) and the corpus replay test
/// (`Tests/Corpus/<name>/`) call them. An entry may throw or return anything; it must not trap,
/// hang or read without bound.
public enum FuzzEntry {
    /// Every target by name, in the order `scripts/fuzz` lists them.
    public static let all: [(name: String, run: @Sendable ([UInt8]) -> Void)] = [
        ("config", config), ("duration", duration), ("tsig", tsig), ("pem", pem),
        ("zonefile", zonefile), ("acmejson", acmeJSON), ("headers", headers), ("persist", persist),
        ("idna", idna),
    ]

    public static func entry(named name: String) -> (@Sendable ([UInt8]) -> Void)? {
        all.first { $0.name == name }?.run
    }

    /// The whole configuration parser, as `dns01 -c FILE` reads a file (UTF-8 only).
    public static func config(_ bytes: [UInt8]) {
        guard let text = String(validating: bytes, as: UTF8.self) else { return }
        _ = try? Configuration.parse(text, path: "/fuzz/dns01.toml")
    }

    /// Durations, as a string and through `Settings.duration`.
    public static func duration(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = Settings.parseDuration(text)
        _ = try? Settings(context: "[dns]", values: ["timeout": .string(text)]).duration("timeout")
        if bytes.count == 8 {
            let seconds = bytes.withUnsafeBytes { $0.loadUnaligned(as: Int.self) }
            _ = try? Settings(context: "[dns]", values: ["timeout": .integer(seconds)]).duration("timeout")
        }
    }

    /// TSIG key files in BIND's and Knot's forms.
    public static func tsig(_ bytes: [UInt8]) {
        guard let text = String(validating: bytes, as: UTF8.self) else { return }
        _ = try? TSIGKey.parse(keyFile: text, path: "/fuzz/tsig.key")
    }

    /// PEM account keys and CSRs (PEM or DER).
    public static func pem(_ bytes: [UInt8]) {
        if let text = String(validating: bytes, as: UTF8.self) { _ = try? AccountKey(pemRepresentation: text) }
        _ = try? CSRInput(bytes: bytes, source: "/fuzz/request.csr")
    }

    static let records = [TXTRecord(name: "_acme-challenge.example.test.", value: "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"),
                          TXTRecord(name: "_acme-challenge.example.test.", value: "Qq0xm5ABVR2Bz2RvxQ6cRzRSv_JWQ0-Pa0G3h6KuJSQ")]
    static let today = Date(timeIntervalSince1970: 1_764_000_000)

    /// The zone-file editor (serial bump, adding and removing dns01's lines) and the libldns
    /// syntax check that guards every write.
    public static func zonefile(_ bytes: [UInt8]) {
        guard let text = String(validating: bytes, as: UTF8.self) else { return }
        _ = try? ZoneFileEditor.bumpingSerial(in: text, today: today)
        let added = ZoneFileEditor.adding(records, ttl: 60, to: text)
        _ = ZoneFileEditor.removing(records, from: added)
        _ = try? ZoneFileSyntax.check(text, origin: "example.test.", source: "/fuzz/example.test.zone")
    }

    /// The ACME documents a CA sends (RFC 8555 §7.1), as the client decodes them.
    public static func acmeJSON(_ bytes: [UInt8]) {
        let data = Data(bytes)
        let decoder = JSONDecoder()
        _ = try? decoder.decode(Directory.self, from: data)
        _ = try? decoder.decode(Order.self, from: data)
        _ = try? decoder.decode(Authorization.self, from: data)
        _ = try? decoder.decode(Challenge.self, from: data)
        _ = try? decoder.decode(Problem.self, from: data)
        if let info = try? decoder.decode(RenewalInfo.self, from: data) {
            _ = info.renewalTime(fraction: 0.5, now: today)
        }
        if let problem = try? decoder.decode(Problem.self, from: data) { _ = problem.description }
    }

    /// `Link` and `Retry-After` header values.
    public static func headers(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = LinkHeader.parse(text)
        _ = LinkHeader.targets(text.split(separator: "\n").map(String.init), relation: "alternate")
        _ = RetryAfter.parse(text, now: today)
    }

    /// dns-persist-01 TXT values (`_validation-persist`, as any zone may serve them): parsed,
    /// written back and parsed again, and judged for a name, its wildcard and a subdomain.
    public static func persist(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let record = try? PersistRecord(parsing: text) else { return }
        _ = try? PersistRecord(parsing: record.text)
        _ = record.persistUntil
        for (name, wildcard) in [("example.test", false), ("example.test", true), ("www.example.test", false)] {
            let verdict = record.verdict(name: name, wildcard: wildcard, validatedName: "example.test", issuerNames: ["authority.example"],
                                         accountURIs: ["https://ca.example/acct/123"], now: today)
            _ = verdict.description
        }
    }

    /// Internationalized names as `-d` and config `domains` give them: to A-labels through
    /// libidn2 (UTS #46), checked, and shown again in U-label form.
    public static func idna(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = DomainName.display(text)
        guard let ascii = try? IDNA.toASCII(text) else { return }
        _ = IDNA.toUnicode(ascii)
        if let name = try? DomainName.normalizeIDN(text, allowWildcard: true) { _ = DomainName.display(name) }
    }
}
