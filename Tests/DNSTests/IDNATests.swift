@testable import DNS
import Testing

@Suite struct IDNATests {
    /// RFC 3492 §7.1 sample strings that are valid IDNA2008 labels, as code points, with their
    /// Punycode (the ACE prefix not shown there). UTS #46 maps the upper-case letters of (D) and
    /// (J) to lower case, so their A-labels are the lower-cased Punycode.
    static let rfc3492: [(sample: String, codePoints: [UInt32], punycode: String)] = [
        ("(B) Chinese (simplified)", [0x4ED6, 0x4EEC, 0x4E3A, 0x4EC0, 0x4E48, 0x4E0D, 0x8BF4, 0x4E2D, 0x6587],
         "ihqwcrb4cv8a8dqg056pqjye"),
        ("(C) Chinese (traditional)", [0x4ED6, 0x5011, 0x7232, 0x4EC0, 0x9EBD, 0x4E0D, 0x8AAA, 0x4E2D, 0x6587],
         "ihqwctvzc91f659drss3x8bo0yb"),
        ("(D) Czech", [0x50, 0x72, 0x6F, 0x10D, 0x70, 0x72, 0x6F, 0x73, 0x74, 0x11B, 0x6E, 0x65, 0x6D, 0x6C, 0x75, 0x76,
                       0xED, 0x10D, 0x65, 0x73, 0x6B, 0x79],
         "Proprostnemluvesky-uyb24dma41a"),
        ("(E) Hebrew", [0x5DC, 0x5DE, 0x5D4, 0x5D4, 0x5DD, 0x5E4, 0x5E9, 0x5D5, 0x5D8, 0x5DC, 0x5D0, 0x5DE, 0x5D3, 0x5D1,
                        0x5E8, 0x5D9, 0x5DD, 0x5E2, 0x5D1, 0x5E8, 0x5D9, 0x5EA],
         "4dbcagdahymbxekheh6e0a7fei0b"),
        ("(G) Japanese (kanji and hiragana)", [0x306A, 0x305C, 0x307F, 0x3093, 0x306A, 0x65E5, 0x672C, 0x8A9E, 0x3092,
                                               0x8A71, 0x3057, 0x3066, 0x304F, 0x308C, 0x306A, 0x3044, 0x306E, 0x304B],
         "n8jok5ay5dzabd5bym9f0cm5685rrjetr6pdxa"),
        ("(I) Russian (Cyrillic)", [0x43F, 0x43E, 0x447, 0x435, 0x43C, 0x443, 0x436, 0x435, 0x43E, 0x43D, 0x438, 0x43D,
                                    0x435, 0x433, 0x43E, 0x432, 0x43E, 0x440, 0x44F, 0x442, 0x43F, 0x43E, 0x440, 0x443,
                                    0x441, 0x441, 0x43A, 0x438],
         "b1abfaaepdrnnbgefbaDotcwatmq2g4l"),
        ("(J) Spanish", [0x50, 0x6F, 0x72, 0x71, 0x75, 0xE9, 0x6E, 0x6F, 0x70, 0x75, 0x65, 0x64, 0x65, 0x6E, 0x73, 0x69,
                         0x6D, 0x70, 0x6C, 0x65, 0x6D, 0x65, 0x6E, 0x74, 0x65, 0x68, 0x61, 0x62, 0x6C, 0x61, 0x72, 0x65,
                         0x6E, 0x45, 0x73, 0x70, 0x61, 0xF1, 0x6F, 0x6C],
         "PorqunopuedensimplementehablarenEspaol-fmd56a"),
        ("(R) <sono><supiido><de>", [0x305D, 0x306E, 0x30B9, 0x30D4, 0x30FC, 0x30C9, 0x3067], "d9juau41awczczp"),
    ]

    static func text(_ codePoints: [UInt32]) -> String {
        String(String.UnicodeScalarView(codePoints.compactMap(Unicode.Scalar.init)))
    }

    @Test(arguments: 0..<rfc3492.count)
    func rfc3492SampleStrings(_ index: Int) throws {
        let (sample, codePoints, punycode) = Self.rfc3492[index]
        let label = Self.text(codePoints)
        let aLabel = "xn--" + punycode.lowercased()
        #expect(try IDNA.toASCII(label + ".example") == aLabel + ".example", "\(sample)")
        #expect(IDNA.toUnicode(aLabel + ".example") == label.lowercased() + ".example", "\(sample)")
    }

    /// UTS #46 §4 processing (non-transitional, as browsers and Let's Encrypt): mapping (case,
    /// full-width forms, the ideographic full stop), deviations kept ("ß", "ς"), A-labels
    /// checked and passed through.
    @Test(arguments: [
        ("faß.de", "xn--fa-hia.de"),             // transitional processing would give fass.de
        ("Bloß.de", "xn--blo-7ka.de"),
        ("ς.gr", "xn--3xa.gr"),
        ("ü.com", "xn--tda.com"),
        ("xn--tda.com", "xn--tda.com"),
        ("XN--BCHER-KVA.example.com", "xn--bcher-kva.example.com"),
        ("日本語。ＪＰ", "xn--wgv71a119e.jp"),
        ("bücher.example.com", "xn--bcher-kva.example.com"),
        ("Bücher.Example.COM.", "xn--bcher-kva.example.com."),
        ("*.bücher.example.com", "*.xn--bcher-kva.example.com"),
        ("ÖBB.at", "xn--bb-eka.at"),
        ("example.com", "example.com"),
    ])
    func toASCII(_ input: String, _ expected: String) throws {
        #expect(try IDNA.toASCII(input) == expected)
    }

    @Test(arguments: [
        ("xn--u-ccb.com", "NFC"),                 // u + combining diaeresis: not NFC
        ("a⒈com", "disallowed"),                  // UTS #46: ⒈ is disallowed
        ("xn--a-ecp.ru", "non-transitional"),
        ("xn--0.pt", "punycode"),                 // not Punycode at all
        ("xn--zz.example.com", "punycode"),
        ("☃.example", "disallowed"),               // symbols are not IDNA2008 PVALID
        ("a\u{200D}b.example", "context-j"),       // ZWJ outside its RFC 5892 context
        ("bücher\u{0}.example", "NUL"),
        (String(repeating: "ü", count: 600) + ".example", "octets long"),
    ])
    func invalid(_ input: String, _ reason: String) {
        do {
            let result = try IDNA.toASCII(input)
            Issue.record("\(input) became \(result)")
        } catch let error as DNSError {
            #expect(error.code == .invalidName)
            #expect(error.message.contains("is not a valid internationalized domain name"), "\(error.message)")
            #expect(error.message.contains(reason), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    /// Limits hold for the A-label form (RFC 5890 §2.3.2.1): a U-label of 61 characters is
    /// more than 63 octets as an A-label, and 31 × "ü" (each "xn--tda") with ".abcdef" is 254
    /// octets; libidn2 refuses both, in a sentence naming the name as given.
    @Test(arguments: [
        ("ö" + String(repeating: "a", count: 60) + ".example", "longer than 63 octets in A-label form"),
        (Array(repeating: "ü", count: 31).joined(separator: ".") + ".abcdef", "longer than 253 octets in A-label form"),
    ])
    func limitsApplyToTheALabelForm(_ name: String, _ reason: String) {
        do {
            _ = try DomainName.normalizeIDN(name)
            Issue.record("accepted")
        } catch let error as DNSError {
            #expect(error.message.hasPrefix("'\(name)' is not a valid internationalized domain name: "), "\(error.message)")
            #expect(error.message.contains(reason), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    /// What libidn2 lets through but a certificate name may not hold is refused by `normalize`,
    /// naming the name as given and its A-label form.
    @Test(arguments: [
        ("bücher", "in A-label form ('xn--bcher-kva') it has a single label."),
        ("bücher.ex ample", "contains ' '"),
        ("bü_cher.example", "contains '_'"),
    ])
    func aLabelFormChecked(_ name: String, _ reason: String) {
        do {
            _ = try DomainName.normalizeIDN(name)
            Issue.record("accepted")
        } catch let error as DNSError {
            #expect(error.message.hasPrefix("'\(name)' is not a valid domain name: in A-label form ('xn--"), "\(error.message)")
            #expect(error.message.contains(reason), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func normalizeIDNWildcardAndCase() throws {
        #expect(try DomainName.normalizeIDN("*.Bücher.example.com.", allowWildcard: true) == "*.xn--bcher-kva.example.com")
        #expect(throws: DNSError.self) { try DomainName.normalizeIDN("*.bücher.example.com") }
        // ASCII names keep their old checks and messages.
        #expect(try DomainName.normalizeIDN("Example.TEST.") == "example.test")
        #expect(try DomainName.normalizeIDN("BLOSS.de") == "bloss.de")
    }

    @Test(arguments: [
        ("xn--bcher-kva.example.com", "bücher.example.com (xn--bcher-kva.example.com)"),
        ("*.xn--bcher-kva.example.com", "*.bücher.example.com (*.xn--bcher-kva.example.com)"),
        ("example.com", "example.com"),
        ("web", "web"),
        ("xn--zz.example.com", "xn--zz.example.com"),   // does not decode: shown as it is
    ])
    func display(_ name: String, _ expected: String) {
        #expect(DomainName.display(name) == expected)
    }
}
