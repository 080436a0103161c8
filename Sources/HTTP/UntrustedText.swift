/// Text that came from outside (the CA's headers and names, a DNS host API's error message, a
/// bridge's or hook's output) made fit for a one-line error message or a log line: control characters become "?" and long text is cut, so a hostile peer can neither
/// break the sentence across lines (nor forge a journald `<N>` line, nor send terminal escapes) nor
/// flood the log (STYLE.md 12, 20). Secrets are taken out first by a `Redactor`.
public enum UntrustedText {
    public static func clip(_ text: some StringProtocol, limit: Int = 200) -> String {
        var result = ""
        var count = 0
        for scalar in text.unicodeScalars {
            guard count < limit else { return result + "…" }
            let control = scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
                || scalar.value == 0x2028 || scalar.value == 0x2029
            result.unicodeScalars.append(control ? "?" : scalar)
            count += 1
        }
        return result
    }
}
