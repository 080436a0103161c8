import DNS
import Foundation
import Providers
import Testing

@Suite struct ZoneFileEditorTests {
    static let zone = """
    ; example.test — hand-written, keep the comments
    $TTL 3600
    $ORIGIN example.test.
    @   IN  SOA ns1 hostmaster (
            2026010203 ; serial
            3600 600 86400 60 )
        IN  NS  ns1
    ns1 IN  A   127.0.0.1   ; the primary
    www IN  TXT "a ; not a comment" "soa"
    """

    @Test func findsTheSerialInAMultiLineSOA() throws {
        let (serial, range) = try ZoneFileEditor.findSerial(in: Self.zone)
        #expect(serial == 2026010203)
        let bytes = Array(Self.zone.utf8)
        #expect(String(decoding: bytes[range], as: UTF8.self) == "2026010203")
    }

    @Test func findsTheSerialOnOneLineWithoutOwner() throws {
        let text = "$ORIGIN x.test.\nsoa 60 IN A 127.0.0.1\n  IN SOA ns1.x.test. h.x.test. 7 1 2 3 4\n"
        #expect(try ZoneFileEditor.findSerial(in: text).serial == 7)
    }

    @Test(arguments: [
        // (serial, today, next)
        (UInt32(2026010203), "2026-01-02", UInt32(2026010204)),   // same day: +1
        (UInt32(2026010203), "2026-11-23", UInt32(2026112300)),   // later day: today's date, nn = 00
        (UInt32(2026112399), "2026-11-23", UInt32(2026112400)),   // nn overflow rolls into the date (still increasing)
        (UInt32(7), "2026-11-23", UInt32(8)),                     // not a date: +1
        (UInt32.max, "2026-11-23", UInt32(0)),                    // RFC 1982 wrap
    ])
    func nextSerial(serial: UInt32, today: String, expected: UInt32) throws {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        let date = try #require(formatter.date(from: today))
        #expect(ZoneFileEditor.nextSerial(after: serial, today: date) == expected)
    }

    @Test func bumpChangesOnlyTheSerial() throws {
        let (text, serial) = try ZoneFileEditor.bumpingSerial(in: Self.zone, today: Date(timeIntervalSince1970: 0))
        #expect(serial == 2026010204)
        #expect(text == Self.zone.replacingOccurrences(of: "2026010203", with: "2026010204"))
    }

    @Test func addThenRemoveRestoresTheTextExactly() {
        let records = [TXTRecord(name: "_acme-challenge.example.test", value: "one"),
                       TXTRecord(name: "_acme-challenge.example.test", value: "two")]
        let added = ZoneFileEditor.adding(records, ttl: 60, to: Self.zone)
        #expect(added.contains("_acme-challenge.example.test. 60 IN TXT \"one\" ; dns01 challenge"))
        #expect(ZoneFileEditor.adding(records, ttl: 60, to: added) == added)
        let removedOne = ZoneFileEditor.removing([records[0]], from: added)
        #expect(!removedOne.contains("\"one\""))
        #expect(removedOne.contains("\"two\""))
        // The original had no final newline; adding put one before the records.
        #expect(ZoneFileEditor.removing(records, from: added) == Self.zone + "\n")
    }

    @Test func aUserLineWithTheSameValueIsNotTouched() {
        let text = "_acme-challenge.example.test. 60 IN TXT \"one\"\n"
        #expect(ZoneFileEditor.removing([TXTRecord(name: "_acme-challenge.example.test", value: "one")], from: text) == text)
    }

    @Test func noSOAIsAnError() {
        #expect(throws: ZoneFileEditor.EditError.self) { try ZoneFileEditor.findSerial(in: "www IN A 127.0.0.1\n") }
    }
}
