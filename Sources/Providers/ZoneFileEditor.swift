import DNS
import FoundationEssentials
import Glibc

/// Edits the text of a zone file (RFC 1035 §5 master file format) without disturbing it: every
/// byte outside the lines dns01 adds or removes, and outside the SOA serial, stays as it was.
///
/// Challenge records are written one per line, fully qualified, with a trailing marker comment,
/// so that $ORIGIN and relative names elsewhere in the file cannot change their meaning and
/// cleanup finds exactly the lines it added.
public enum ZoneFileEditor {
    public struct EditError: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public static let marker = "; dns01 challenge"

    /// The line for one TXT record.
    public static func line(for record: TXTRecord, ttl: UInt32) -> String {
        var escaped = ""
        for character in record.value {
            if character == "\"" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return "\(record.name). \(ttl) IN TXT \"\(escaped)\" \(marker)"
    }

    /// `text` with a line for each record appended (a record whose line is already there is not
    /// added twice).
    public static func adding(_ records: [TXTRecord], ttl: UInt32, to text: String) -> String {
        var result = text
        let existing = Set(text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
        var added = Set<String>()
        for record in records {
            let line = line(for: record, ttl: ttl)
            guard !existing.contains(line), added.insert(line).inserted else { continue }
            if !result.isEmpty && !result.hasSuffix("\n") { result += "\n" }
            result += line + "\n"
        }
        return result
    }

    /// `text` without the lines dns01 wrote for these records (whatever TTL they were written
    /// with); every other line is kept byte for byte.
    public static func removing(_ records: [TXTRecord], from text: String) -> String {
        let wanted = Set(records.map { line(for: $0, ttl: 0).replacing(". 0 IN TXT ", with: ". IN TXT ") })
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.removeAll { line in
            guard line.hasSuffix(marker) else { return false }
            return wanted.contains(withoutTTL(line))
        }
        return lines.joined(separator: "\n")
    }

    /// "name. 60 IN TXT …" -> "name. IN TXT …", for matching regardless of TTL.
    private static func withoutTTL(_ line: String) -> String {
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, UInt32(parts[1]) != nil else { return line }
        return "\(parts[0]) \(parts[2])"
    }

    // MARK: - SOA serial

    /// The SOA serial of the zone and where it is in `text` (UTF-8 offsets).
    public static func findSerial(in text: String) throws -> (serial: UInt32, range: Range<Int>) {
        let bytes = Array(text.utf8)
        var index = 0
        var lineStart = true
        var depth = 0
        var foundSOA = false
        var afterSOA: [Range<Int>] = []
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\n"):
                if depth == 0 { lineStart = true }
                index += 1
                continue
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                lineStart = false
                index += 1
                continue
            case UInt8(ascii: ";"):
                while index < bytes.count && bytes[index] != UInt8(ascii: "\n") { index += 1 }
                continue
            case UInt8(ascii: "("):
                depth += 1; index += 1; lineStart = false
                continue
            case UInt8(ascii: ")"):
                depth = max(0, depth - 1); index += 1; lineStart = false
                continue
            default:
                break
            }
            let start = index
            let atStart = lineStart
            lineStart = false
            if byte == UInt8(ascii: "\"") {
                index += 1
                while index < bytes.count && bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                index = min(index + 1, bytes.count)
            } else {
                while index < bytes.count {
                    let b = bytes[index]
                    if b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r")
                        || b == UInt8(ascii: ";") || b == UInt8(ascii: "(") || b == UInt8(ascii: ")") { break }
                    index += b == UInt8(ascii: "\\") ? 2 : 1
                }
                index = min(index, bytes.count)
            }
            let range = start..<index
            if foundSOA {
                afterSOA.append(range)
                if afterSOA.count == 3 { break }
            } else {
                let word = String(decoding: bytes[range], as: UTF8.self)
                if !atStart && word.uppercased() == "SOA" { foundSOA = true }
            }
        }
        guard foundSOA else { throw EditError(message: "has no SOA record") }
        guard afterSOA.count == 3 else { throw EditError(message: "has an SOA record without a serial") }
        let range = afterSOA[2]
        let text = String(decoding: bytes[range], as: UTF8.self)
        guard let serial = UInt32(text) else {
            throw EditError(message: "has an SOA serial '\(text)' that is not a number from 0 to 4294967295")
        }
        return (serial, range)
    }

    /// The next serial: a date-style serial (YYYYMMDDnn) stays date-style — today's date with
    /// nn = 00 if that is larger, else +1; any other serial +1 in RFC 1982 serial arithmetic
    /// (wrapping at 2^32).
    public static func nextSerial(after serial: UInt32, today: Date = Date()) -> UInt32 {
        if isDateStyle(serial) {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            let parts = calendar.dateComponents([.year, .month, .day], from: today)
            let stamp = UInt64(parts.year!) * 1_000_000 + UInt64(parts.month!) * 10_000 + UInt64(parts.day!) * 100
            if stamp > UInt64(serial), stamp <= UInt64(UInt32.max) { return UInt32(stamp) }
        }
        return serial &+ 1
    }

    static func isDateStyle(_ serial: UInt32) -> Bool {
        guard serial >= 1_970_010_100 else { return false }
        let date = serial / 100
        let year = date / 10_000, month = (date / 100) % 100, day = date % 100
        return (1970...2200).contains(year) && (1...12).contains(month) && (1...31).contains(day)
    }

    /// `text` with its SOA serial replaced by the next one; nothing else changes.
    public static func bumpingSerial(in text: String, today: Date = Date()) throws -> (text: String, serial: UInt32) {
        let (serial, range) = try findSerial(in: text)
        let next = nextSerial(after: serial, today: today)
        var bytes = Array(text.utf8)
        bytes.replaceSubrange(range, with: Array(String(next).utf8))
        return (String(decoding: bytes, as: UTF8.self), next)
    }
}
