import Foundation
import TestLab

extension TestLab {
    /// Writes the lab's dns01.toml (with `edit` applied) into the lab directory; returns its path.
    func writeConfig(_ name: String = "dns01.toml", edit: (String) -> String = { $0 }) throws -> String {
        let path = "\(directory)/\(name)"
        try edit(configTOML(stateDir: "\(directory)/state")).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The lab's config with its rfc2136 [[provider]] replaced by `provider` (TOML text), written
    /// under a fresh name; returns its path.
    func writeConfig(replacingProviderWith provider: String) throws -> String {
        try writeConfig("config-\(UUID().uuidString.prefix(6)).toml") { text in
            guard let start = text.range(of: "[[provider]]")?.lowerBound, let end = text.range(of: "[[zone]]")?.lowerBound else { return text }
            return String(text[..<start]) + provider + "\n" + String(text[end...])
        }
    }

    /// Every TXT value left under `_acme-challenge` names of `names`, at the primary.
    func leftoverChallengeValues(_ names: [String]) throws -> [String] {
        try Set(names.map { $0.hasPrefix("*.") ? String($0.dropFirst(2)) : $0 }).flatMap { base in
            try txtValues("_acme-challenge.\(base)", at: primary)
        }
    }
}

/// The SAN DNS names of a PEM certificate, read with openssl (independent of dns01's own code).
func subjectAlternativeNames(ofCertificateAt path: String) throws -> [String] {
    let text = try runProcess("/usr/bin/openssl", ["x509", "-noout", "-ext", "subjectAltName", "-in", path]).stdout
    return text.components(separatedBy: CharacterSet(charactersIn: ", \n"))
        .filter { $0.hasPrefix("DNS:") }
        .map { String($0.dropFirst(4)) }
        .sorted()
}
