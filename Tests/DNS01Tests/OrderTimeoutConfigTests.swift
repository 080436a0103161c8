import DNS01
import Providers
import Testing
import Settings

/// `[acme] order_timeout` bounds how long the CA may keep an order pending or processing.
@Suite struct OrderTimeoutConfigTests {
    static func config(_ line: String) -> String {
        """
        [acme]
        directory = "https://127.0.0.1:9/dir"
        \(line)
        [dns]
        resolvers = ["127.0.0.1:9"]
        """
    }

    @Test(arguments: [
        ("", Duration.seconds(300)),
        ("order_timeout = \"4s\"", .seconds(4)),
        ("order_timeout = \"10m\"", .seconds(600)),
        ("order_timeout = 90", .seconds(90)),
    ])
    func accepted(_ line: String, _ expected: Duration) throws {
        #expect(try Configuration.parse(Self.config(line), path: "t.toml").acme.orderTimeout == expected)
    }

    @Test(arguments: ["order_timeout = \"0s\"", "order_timeout = \"25h\"", "order_timeout = \"soon\"", "order_timeout = true"])
    func rejected(_ line: String) throws {
        let error = try #require(throws: ConfigError.self) { try Configuration.parse(Self.config(line), path: "t.toml") }
        #expect(error.description.contains("order_timeout"), "\(error)")
    }
}
