import Blocking

/// Checks zone-file text with libldns's parser before it is written, so a zone the server would
/// reject never replaces a good one.
public enum ZoneFileSyntax {
    /// Throws `DNSError(.zoneSyntax)` naming `source` and the line of the first error.
    public static func check(_ text: String, origin: String, source: String) throws {
        if let failure = LDNS.checkZone(text, origin: origin) {
            throw DNSError(.zoneSyntax, "Zone file \(source) would not load: line \(failure.line): \(failure.reason).", name: origin)
        }
    }
}
