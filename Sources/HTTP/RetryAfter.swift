import FoundationEssentials
import FoundationShim
import Glibc

/// The Retry-After header (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, in any of the three
/// forms RFC 9110 §5.6.7 requires a recipient to accept:
///
/// ```
/// IMF-fixdate  Sun, 06 Nov 1994 08:49:37 GMT
/// rfc850-date  Sunday, 06-Nov-94 08:49:37 GMT
/// asctime      Sun Nov  6 08:49:37 1994
/// ```
///
/// Every number is range-checked before use, and the result is at most `ceiling` (one day): no
/// caller waits longer, and a CA's "retry in 10^30 seconds" must not overflow a clock.
public enum RetryAfter {
    public static let ceiling = Duration.seconds(86_400)

    public static func parse(_ value: String?, now: Date = Date()) -> Duration? {
        guard let value = value?.trimmingWhitespace(), !value.isEmpty else { return nil }
        let bytes = Array(value.utf8)
        if bytes.allSatisfy(isDigit) {
            // delay-seconds = 1*DIGIT; more digits than fit are a very long delay.
            guard bytes.count <= 18, let seconds = Int64(value) else { return ceiling }
            return min(.seconds(seconds), ceiling)
        }
        guard let date = httpDate(value, now: now) else { return nil }
        let delay = date - now.timeIntervalSince1970
        guard delay.isFinite, delay > 0 else { return .zero }
        guard delay < 86_400 else { return ceiling }
        return .milliseconds(Int64((delay * 1000).rounded(.up)))
    }

    /// Seconds since 1970 of an HTTP-date in any of its three forms, or nil.
    static func httpDate(_ text: String, now: Date) -> Double? {
        let words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let fields: (day: Int, month: Int, year: Int, time: String)?
        switch words.count {
        case 6 where words[5] == "GMT" && words[0].count == 4 && words[0].hasSuffix(","):
            // IMF-fixdate: day-name "," SP date1 SP time-of-day SP GMT
            guard dayNames.contains(String(words[0].dropLast())), words[1].count == 2, words[3].count == 4,
                  let day = number(words[1]), let month = monthNames.firstIndex(of: words[2]), let year = number(words[3])
            else { return nil }
            fields = (day, month + 1, year, words[4])
        case 4 where words[3] == "GMT" && words[0].hasSuffix(","):
            // rfc850-date: day-name-l "," SP date2 SP time-of-day SP GMT; date2 = DD-Mon-YY
            let parts = words[1].split(separator: "-", omittingEmptySubsequences: false).map(String.init)
            guard longDayNames.contains(String(words[0].dropLast())), parts.count == 3, parts[0].count == 2, parts[2].count == 2,
                  let day = number(parts[0]), let month = monthNames.firstIndex(of: parts[1]), let twoDigits = number(parts[2])
            else { return nil }
            fields = (day, month + 1, fullYear(twoDigits, now: now), words[2])
        case 5:
            // asctime-date: day-name SP date3 SP time-of-day SP year; date3 = month SP ( 2DIGIT / ( SP DIGIT ))
            guard dayNames.contains(words[0]), let month = monthNames.firstIndex(of: words[1]), (1...2).contains(words[2].count),
                  let day = number(words[2]), words[4].count == 4, let year = number(words[4])
            else { return nil }
            fields = (day, month + 1, year, words[3])
        default:
            fields = nil
        }
        guard let fields, let seconds = timeOfDay(fields.time),
              (1...daysIn(month: fields.month, year: fields.year)).contains(fields.day)
        else { return nil }
        let days = daysFromCivil(year: fields.year, month: fields.month, day: fields.day)
        return Double(days) * 86_400 + Double(seconds)
    }

    /// RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is the most recent
    /// past year with the same last two digits.
    static func fullYear(_ twoDigits: Int, now: Date) -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "GMT") ?? calendar.timeZone
        let current = calendar.component(.year, from: now)
        var year = current - current % 100 + twoDigits
        if year > current + 50 { year -= 100 }
        return year
    }

    /// "HH:MM:SS" (a leap second allowed, RFC 9110 §5.6.7) as seconds since midnight.
    private static func timeOfDay(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, parts.allSatisfy({ $0.count == 2 }),
              let hour = number(parts[0]), let minute = number(parts[1]), let second = number(parts[2]),
              hour < 24, minute < 60, second <= 60 else { return nil }
        return hour * 3600 + minute * 60 + second
    }

    /// A short run of ASCII digits (at most 4, so no overflow), or nil.
    private static func number(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        guard (1...4).contains(bytes.count), bytes.allSatisfy(isDigit) else { return nil }
        return bytes.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static let dayNames = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    private static let longDayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    private static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
}
