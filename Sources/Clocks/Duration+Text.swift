/// The one place a `Duration` becomes a number or a text (STYLE.md 18).
extension Duration {
    /// In seconds, with the fraction: for JSON, `Date` arithmetic and comparisons.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// Whole milliseconds, rounded down, never negative: for C APIs' timeouts.
    public var wholeMilliseconds: Int64 {
        max(0, components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000)
    }

    /// Whole microseconds, rounded down, never negative.
    public var wholeMicroseconds: Int64 {
        max(0, components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000)
    }

    /// "24h", "90m", "45s", "1.5s": as the config would write it (a limit in a message).
    public var configText: String {
        let milliseconds = wholeMilliseconds
        guard milliseconds % 1000 == 0 else {
            var fraction = String(milliseconds % 1000)
            while fraction.count < 3 { fraction = "0" + fraction }
            while fraction.hasSuffix("0") { fraction.removeLast() }
            return "\(milliseconds / 1000).\(fraction)s"
        }
        let total = milliseconds / 1000
        for (unit, size) in [("h", Int64(3600)), ("m", 60)] where total > 0 && total % size == 0 {
            return "\(total / size)\(unit)"
        }
        return "\(total)s"
    }

    /// "3.21s": a time that passed, to the hundredth of a second.
    public var elapsedText: String {
        let hundredths = (wholeMilliseconds + 5) / 10
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)s"
    }
}
