/// The few conveniences of swift-corelibs Foundation that FoundationEssentials lacks and dns01
/// uses: whitespace trimming and printf-style numbers. Any one corelibs Foundation API links
/// ICU (34 MB of data) into the binary; these are written on the standard library instead, so
/// every module of the product imports FoundationEssentials only (`scripts/test` checks the
/// release binary holds no ICU).

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs (what
    /// `trimmingCharacters(in: .whitespaces)` removed: Unicode spaces, not line breaks).
    public func trimmingWhitespace() -> String {
        trimmingCharacters { $0.isWhitespace && !$0.isNewline }
    }

    /// The text without leading and trailing whitespace and line breaks
    /// (`trimmingCharacters(in: .whitespacesAndNewlines)`).
    public func trimmingWhitespaceAndNewlines() -> String {
        trimmingCharacters(where: \.isWhitespace)
    }

    /// The text without the leading and trailing characters `drop` is true of.
    public func trimmingCharacters(where drop: (Character) -> Bool) -> String {
        guard let first = firstIndex(where: { !drop($0) }), let last = lastIndex(where: { !drop($0) }) else { return "" }
        return String(self[first...last])
    }
}

extension BinaryInteger {
    /// The number in `radix`, left-padded with zeros to `width` digits (`%04d`, `%02x`, `%04o`).
    public func zeroPadded(_ width: Int, radix: Int = 10, uppercase: Bool = false) -> String {
        let digits = String(magnitude, radix: radix, uppercase: uppercase)
        let padded = String(repeating: "0", count: Swift.max(0, width - digits.count)) + digits
        return self < 0 ? "-" + padded : padded
    }
}

extension Double {
    /// The number with exactly `digits` digits after the point, rounded half away from zero
    /// (`%.2f`); "nan" or "inf" as printf writes them.
    public func fixed(_ digits: Int) -> String {
        guard isFinite else { return isNaN ? "nan" : (self < 0 ? "-inf" : "inf") }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (Swift.abs(self) * scale).rounded(.toNearestOrAwayFromZero)
        // Beyond 2^63 a Double has no fractional digits to show.
        guard scaled < 9.2e18 else { return "\(self)" }
        let units = UInt64(scaled)
        let whole = units / UInt64(scale), fraction = units % UInt64(scale)
        let sign = self < 0 && units != 0 ? "-" : ""
        return digits == 0 ? "\(sign)\(whole)" : "\(sign)\(whole).\(fraction.zeroPadded(digits))"
    }
}
