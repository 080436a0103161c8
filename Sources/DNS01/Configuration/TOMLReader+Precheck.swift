import Settings

/// The check before toml++ sees the text (see `TOMLReader`'s note on why).
extension TOMLReader {
    /// Rejects what TOML 1.0 forbids and toml++ might not survive, naming the file and line:
    /// control characters other than tab and newlines (TOML 1.0: "Control characters other than
    /// tab … are not permitted" in strings and comments, and are not TOML elsewhere), a CR not
    /// before LF, a `\u0000` escape, and non-ASCII outside strings and comments (TOML 1.0 bare
    /// keys are ASCII letters, digits, '-' and '_').
    ///
    /// Fuzzing toml++ 3.4 (TOMLKit 0.6) behind these checks found more inputs it asserts on
    /// instead of reporting, each closed here: a table header whose '[' is not followed by a key
    /// (parse_key), a date whose 'T' is not followed by a time (parse_time), a date, a space
    /// and a lone digit (parse_value), and a '}' inside an array (parse_value).
    static func validate(_ text: String, path: String) throws {
        let bytes = Array(text.utf8)
        guard bytes.count <= maximumBytes else {
            throw ConfigError("\(path): the file is larger than \(maximumBytes >> 20) MiB; a dns01 configuration is a few kilobytes.")
        }
        enum State { case bare, comment, basic, literal, multilineBasic, multilineLiteral }
        var state = State.bare
        var line = 1
        // Where a '[' opens a table header: first on its line, outside any value.
        var lineStart = true, afterEquals = false
        // The '[' and '{' open inside the current value, innermost last.
        var brackets: [UInt8] = []
        var index = 0
        func fail(_ why: String) -> ConfigError { ConfigError("\(path): line \(line): \(why).") }
        func at(_ offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }
        func triple(_ quote: UInt8) -> Bool { at(0) == quote && at(1) == quote && at(2) == quote }
        let quote = UInt8(ascii: "\""), apostrophe = UInt8(ascii: "'"), backslash = UInt8(ascii: "\\")
        // Whether a byte in bare context begins a token (a key, a value, a string): first in
        // the text, or after whitespace, '=', '[', '{', ',' or, in a key, '.'.
        func startsToken(_ position: Int) -> Bool {
            guard position > 0 else { return true }
            switch bytes[position - 1] {
            case 0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: "="), UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: ","): return true
            case UInt8(ascii: "."): return !afterEquals && brackets.isEmpty
            default: return false
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x0A {
                if state == .basic || state == .literal { throw fail("a quoted string is not closed before the end of the line") }
                if state == .comment { state = .bare }
                if state == .bare {
                    lineStart = true
                    if brackets.isEmpty { afterEquals = false }
                }
                line += 1
                index += 1
                continue
            }
            if byte == 0x0D {
                guard at(1) == 0x0A else { throw fail("a carriage return not followed by a line feed") }
                index += 1
                continue
            }
            if byte == 0x7F || (byte < 0x20 && byte != 0x09) {
                throw fail(byte == 0 ? "a NUL character" : "control character U+\(hex(byte)) (TOML allows only tab and newlines)")
            }
            if byte >= 0x80 {
                if state == .bare {
                    let scalar = String(decoding: bytes[index..<min(index + 4, bytes.count)], as: UTF8.self).unicodeScalars.first
                    let shown = scalar.map { "U+" + String($0.value, radix: 16, uppercase: true) } ?? "a non-ASCII byte"
                    throw fail("non-ASCII character \(shown) outside a quoted string or comment (bare keys are ASCII: quote the key, e.g. [\"name\"])")
                }
                index += 1
                continue
            }
            switch state {
            case .comment:
                index += 1
            case .bare:
                let wasLineStart = lineStart
                if byte != 0x20 && byte != 0x09 { lineStart = false }
                if byte == UInt8(ascii: "#") {
                    state = .comment; index += 1
                } else if byte == UInt8(ascii: "[") && brackets.isEmpty && !afterEquals && wasLineStart {
                    // A table header. toml++ asserts (parse_key) when '[' is not followed by a
                    // key, so its grammar is checked here; its quoted keys are then scanned
                    // like any string.
                    guard tableHeaderIsWellFormed(bytes, at: index) else {
                        throw fail("a table header must be [name], [a.b], [\"quoted\"] or [[name]], with bare keys of A-Z, a-z, 0-9, '_' and '-'")
                    }
                    index += 1
                } else if byte == UInt8(ascii: "=") {
                    if brackets.isEmpty { afterEquals = true }
                    index += 1
                } else if (byte == UInt8(ascii: "T") || byte == UInt8(ascii: "t")) && (afterEquals || !brackets.isEmpty)
                            && isDate(bytes, endingAt: index) && !(at(1).map(isDigit) ?? false) {
                    // toml++ asserts (parse_time) when a date's 'T' is not followed by a digit.
                    throw fail("a date-time needs a time after its 'T' (as in 1979-05-27T07:32:00Z)")
                } else if byte == 0x20 && isDate(bytes, endingAt: index)
                            && (at(1).map(isDigit) ?? false) && !(at(2).map(isDigit) ?? false) {
                    // toml++ asserts (parse_value's scan) on a date, a space and a lone digit.
                    throw fail("a date-time needs a two-digit hour after the space (as in 1979-05-27 07:32:00Z)")
                } else if byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") {
                    if afterEquals || !brackets.isEmpty { brackets.append(byte) }
                    index += 1
                } else if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") {
                    if let open = brackets.popLast() {
                        // toml++ asserts (parse_value) on a '}' inside an array.
                        let expected = open == UInt8(ascii: "[") ? UInt8(ascii: "]") : UInt8(ascii: "}")
                        guard byte == expected else {
                            throw fail("'\(Character(Unicode.Scalar(byte)))' closes a '\(Character(Unicode.Scalar(open)))' (mismatched brackets)")
                        }
                    }
                    index += 1
                } else if (byte == quote || byte == apostrophe) && !startsToken(index) {
                    // Inside a bare value ("1980-p'-7a") toml++ reads a quote as part of the
                    // value, so it is scanned as such here too, not as the start of a string.
                    index += 1
                } else if triple(quote) {
                    state = .multilineBasic; index += 3
                } else if triple(apostrophe) {
                    state = .multilineLiteral; index += 3
                } else if byte == quote {
                    state = .basic; index += 1
                } else if byte == apostrophe {
                    state = .literal; index += 1
                } else {
                    index += 1
                }
            case .basic, .multilineBasic:
                if byte == backslash {
                    if at(1) == UInt8(ascii: "u") || at(1) == UInt8(ascii: "U") {
                        let digits = at(1) == UInt8(ascii: "u") ? 4 : 8
                        let end = min(index + 2 + digits, bytes.count)
                        if end - (index + 2) == digits, bytes[(index + 2)..<end].allSatisfy({ $0 == UInt8(ascii: "0") }) {
                            throw fail("a \\u0000 escape (a NUL would cut the value short)")
                        }
                    }
                    // A printable escaped character is skipped; anything else (a line end after
                    // a line-ending backslash, a control character, non-ASCII) is left to the
                    // loop, which counts or checks it.
                    index += at(1).map { (0x20...0x7E).contains($0) } == true ? 2 : 1
                } else if state == .basic && byte == quote {
                    state = .bare; index += 1
                } else if state == .multilineBasic && triple(quote) {
                    // Up to two more quotes right after the closing ones belong to the string.
                    index += 3
                    var extra = 0
                    while extra < 2 && at(0) == quote { index += 1; extra += 1 }
                    state = .bare
                } else {
                    index += 1
                }
            case .literal:
                if byte == apostrophe { state = .bare }
                index += 1
            case .multilineLiteral:
                if triple(apostrophe) {
                    index += 3
                    var extra = 0
                    while extra < 2 && at(0) == apostrophe { index += 1; extra += 1 }
                    state = .bare
                } else {
                    index += 1
                }
            }
        }
        guard state == .bare || state == .comment else { throw fail("a quoted string is never closed") }
    }

    /// TOML 1.0 `std-table` / `array-table` up to its closing bracket(s):
    /// `"[" ws key *( ws "." ws key ) ws "]"`, keys bare (A-Z a-z 0-9 _ -) or quoted on one line.
    static func tableHeaderIsWellFormed(_ bytes: [UInt8], at start: Int) -> Bool {
        var index = start + 1
        func at(_ i: Int) -> UInt8? { i < bytes.count ? bytes[i] : nil }
        func skipWhitespace() { while at(index) == 0x20 || at(index) == 0x09 { index += 1 } }
        let double = at(index) == UInt8(ascii: "[")
        if double { index += 1 }
        skipWhitespace()
        while true {
            guard let first = at(index) else { return false }
            if first == UInt8(ascii: "\"") || first == UInt8(ascii: "'") {
                index += 1
                while let byte = at(index), byte != first {
                    if byte == 0x0A || byte == 0x0D { return false }
                    index += first == UInt8(ascii: "\"") && byte == UInt8(ascii: "\\") ? 2 : 1
                }
                guard at(index) == first else { return false }
                index += 1
            } else {
                let keyStart = index
                while let byte = at(index), isBareKeyCharacter(byte) { index += 1 }
                // A non-ASCII character is left to the caller, which names it.
                if let byte = at(index), byte >= 0x80 { return true }
                guard index > keyStart else { return false }
            }
            skipWhitespace()
            guard at(index) == UInt8(ascii: ".") else { break }
            index += 1
            skipWhitespace()
        }
        guard at(index) == UInt8(ascii: "]") else { return false }
        return !double || at(index + 1) == UInt8(ascii: "]")
    }

    /// Whether the ten bytes before `end` are what toml++ takes for a date when deciding
    /// whether a space or 'T' starts a time: a digit, then anything but its value terminators,
    /// with '-' at offsets 4 and 7 ("1979-05-27", but also "1979-j5-27" or "1980-p'-7a").
    private static func isDate(_ bytes: [UInt8], endingAt end: Int) -> Bool {
        guard end >= 10, end <= bytes.count else { return false }
        let token = bytes[(end - 10)..<end]
        return token.enumerated().allSatisfy { offset, byte in
            switch offset {
            case 0: isDigit(byte)
            case 4, 7: byte == UInt8(ascii: "-")
            // Everything but toml++'s value terminators (its scan runs over quotes and newlines).
            default: byte != 0x20 && byte != 0x09 && !",]}#".utf8.contains(byte)
            }
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func isBareKeyCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "-"): true
        default: false
        }
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return digits.count == 1 ? "000" + digits : "00" + digits
    }
}
