import FoundationEssentials
import Glibc

/// The wall-clock time `dns01 run` decides at which certificates are due: now, moved by
/// `DNS01_TEST_CLOCK_OFFSET` seconds when set (the integration tests' "a day later", as the
/// lab's CA and DNS servers keep the real time; libfaketime cannot be used: it leaves a Swift
/// program without its arguments). Only the decision moves: what is issued, stored and
/// validated keeps the real time.
public enum RenewalClock {
    public static let offsetVariable = "DNS01_TEST_CLOCK_OFFSET"
    /// The largest offset taken (ten years); a value beyond it, or not a whole number, is ignored.
    static let largestOffset = 10 * 366 * 86400

    public static func now(environment: [String: String] = ProcessInfo.processInfo.environment) -> Date {
        guard let text = environment[offsetVariable], let seconds = Int(text), abs(seconds) <= largestOffset else { return Date() }
        return Date().addingTimeInterval(TimeInterval(seconds))
    }
}
