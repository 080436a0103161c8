@testable import DNS01

/// A config whose [acme] and [dns] contact nothing, for tests of [[certificate]] keys.
enum ConfigFixture {
    static let header = """
        [acme]
        directory = "https://ca.test/dir"
        state_dir = "/tmp/dns01-unused"
        [dns]
        resolvers = ["127.0.0.1:53"]

        """

    /// The header followed by `certificates` (TOML text).
    static func text(_ certificates: String) -> String { header + certificates }

    static func parse(_ certificates: String) throws -> Configuration {
        try Configuration.parse(text(certificates), path: "test.toml")
    }
}
