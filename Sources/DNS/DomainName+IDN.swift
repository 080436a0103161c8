/// Internationalized names: checked and stored in A-label form, shown in both.
extension DomainName {
    /// `normalize` for names a user or a config gives, which may be internationalized: the
    /// name is converted to its A-label form first (`IDNA.toASCII`, UTS #46 non-transitional),
    /// then checked as any other name. `bücher.example.com` → `xn--bcher-kva.example.com`,
    /// `*.Bücher.example.com.` → `*.xn--bcher-kva.example.com`.
    public static func normalizeIDN(_ name: String, allowWildcard: Bool = false, allowUnderscore: Bool = false) throws -> String {
        let ascii = try IDNA.toASCII(name)
        do {
            return try normalize(ascii, allowWildcard: allowWildcard, allowUnderscore: allowUnderscore)
        } catch let error as DNSError where ascii != name {
            // The A-label form is what broke a limit (a label over 63 octets, the name over 253):
            // one sentence naming the name as given, its A-label form and why.
            var why = Substring(error.message)
            let lead = "'\(ascii)' is not a valid domain name: "
            if why.hasPrefix(lead) { why = why.dropFirst(lead.count) }
            if why.hasSuffix(".") { why = why.dropLast() }
            throw DNSError(.invalidName, "'\(name)' is not a valid domain name: in A-label form ('\(ascii)') \(why).", name: name)
        }
    }

    /// A name as a person should see it: "bücher.example.com (xn--bcher-kva.example.com)" when
    /// it has A-labels that decode, else the name unchanged (so it suits certificate names too).
    public static func display(_ name: String) -> String {
        guard let unicode = IDNA.toUnicode(name) else { return name }
        return "\(unicode) (\(name))"
    }
}
