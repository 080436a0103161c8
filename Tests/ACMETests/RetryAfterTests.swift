@testable import ACME
@testable import HTTP
import Foundation
import Testing

@Suite struct RetryAfterTests {
    /// Sun, 06 Nov 1994 08:48:37 GMT: a minute before RFC 9110's example date.
    static let now = Date(timeIntervalSince1970: 784_111_717)

    /// RFC 9110 §5.6.7: all three HTTP-date forms, plus delay-seconds (§10.2.3).
    @Test(arguments: [
        ("Sun, 06 Nov 1994 08:49:37 GMT", Duration.seconds(60)),      // IMF-fixdate
        ("Sunday, 06-Nov-94 08:49:37 GMT", .seconds(60)),             // obsolete RFC 850
        ("Sun Nov  6 08:49:37 1994", .seconds(60)),                   // asctime
        ("Sun Nov 06 08:49:37 1994", .seconds(60)),
        ("Sun, 06 Nov 1994 08:40:00 GMT", .zero),                     // in the past
        ("Mon, 07 Nov 1994 08:48:37 GMT", .seconds(86_400)),
        ("Thu, 01 Jan 2037 00:00:00 GMT", RetryAfter.ceiling),        // far future: the ceiling
        ("Sun, 06 Nov 1994 08:49:60 GMT", .seconds(83)),              // a leap second
        ("120", .seconds(120)),
        (" 0 ", .zero),
        ("86401", RetryAfter.ceiling),
        ("99999999999999999999999999999999", RetryAfter.ceiling),
    ] as [(String, Duration)])
    func accepted(_ value: String, _ expected: Duration) {
        #expect(RetryAfter.parse(value, now: Self.now) == expected)
    }

    @Test(arguments: [
        "soon", "-5", "+5", "1.5", "1e3", "0x10", "",
        "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 31 Nov 1994 08:49:37 GMT", "Sun, 29 Feb 1995 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT", "Sun Nov 6 08:49:37 94", "Sun, 06 Nov 99999 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT", "Sun, 06 Nov 1994 08:49:37:00 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
    ])
    func refused(_ value: String) {
        #expect(RetryAfter.parse(value, now: Self.now) == nil)
    }

    /// RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is in the past century.
    @Test func twoDigitYears() {
        let in2026 = Date(timeIntervalSince1970: 1_780_000_000)  // May 2026
        #expect(RetryAfter.fullYear(26, now: in2026) == 2026)
        #expect(RetryAfter.fullYear(76, now: in2026) == 2076)
        #expect(RetryAfter.fullYear(77, now: in2026) == 1977)
        #expect(RetryAfter.fullYear(94, now: in2026) == 1994)
    }
}
