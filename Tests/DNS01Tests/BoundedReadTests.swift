import Files
import Foundation
@testable import Providers
import Testing

/// Item 14 of "Trust, round two": every file dns01 reads goes through one bounded reader
/// (`FileSystem.readBytes(_:limit:)`). `/dev/zero` or any endless file given as a config, a
/// CSR, a key file or a zone file's `$INCLUDE` ends in one sentence naming it; a FIFO nobody
/// writes to does not block.
@Suite("bounded reads", .timeLimit(.minutes(2)))
struct BoundedReadTests {
    static let limits: [FileSystem.ReadLimit] = [.configuration, .csr, .secret, .tsigKey, .credentials, .caBundle, .pem, .state, .zoneFile, .system]

    @Test(arguments: limits.map { ($0.bytes, $0.kind) })
    func devZeroIsRefusedPastTheLimit(_ bytes: Int, _ kind: String) throws {
        #expect { try FileSystem.readBytes("/dev/zero", limit: .init(bytes, kind)) } throws: { error in
            guard let error = error as? FileSystemError else { return false }
            return error.tooLarge && "\(error)".contains("/dev/zero") && "\(error)".contains("larger than") && "\(error)".contains(kind)
        }
    }

    /// A regular file is measured before it is read; one byte over is refused, the limit itself
    /// is read whole.
    @Test func aRegularFileAtAndOverTheLimit() throws {
        try Self.withDirectory { directory throws in
            let path = "\(directory)/file"
            try Data(repeating: 0x41, count: 1000).write(to: URL(fileURLWithPath: path))
            #expect(try FileSystem.readBytes(path, limit: .init(1000, "a test file")).count == 1000)
            #expect { try FileSystem.readBytes(path, limit: .init(999, "a test file")) } throws: { error in
                "\(error)" == "Cannot read \(path): it is larger than 999 bytes, more than a test file ever is."
            }
        }
    }

    /// A FIFO with no writer: open(2) without O_NONBLOCK waits for a writer forever.
    @Test func aFIFOWithoutAWriterReadsEmptyAtOnce() throws {
        try Self.withDirectory { directory throws in
            let path = "\(directory)/fifo"
            #expect(mkfifo(path, 0o600) == 0)
            #expect(try FileSystem.readBytes(path, limit: .configuration) == [])
        }
    }

    @Test func anEndlessIncludeIsAnError() throws {
        #expect { try ZoneFileProvider.expandingIncludes("@ IN NS ns1\n$INCLUDE /dev/zero\n", zoneFile: "/tmp/db.example", override: (nil, nil)) }
            throws: { error in
                "\(error)" == "zone file /tmp/db.example has '$INCLUDE /dev/zero', and /dev/zero is larger than 64 MiB, more than a zone file ever is"
            }
    }

    /// `-c /dev/zero`, `-c FIFO`, `--csr /dev/zero`, `tsig_key_file = "/dev/zero"`: exit 2 with
    /// one sentence naming the file, no hang, no trap.
    @Test func theCommandLineNamesTheFile() async throws {
        let zero = try await CLIRunner.run(["check", "-c", "/dev/zero", "-d", "example.test"])
        #expect(zero.status == 2, "\(zero.stderr)")
        #expect(zero.stderr.contains("Cannot read the configuration file /dev/zero: it is larger than 1 MiB, more than a dns01 configuration ever is."),
                "\(zero.stderr)")

        try await BadInputTests.withTempConfig(BadInputTests.unreachableCAConfig) { config in
            let directory = (config as NSString).deletingLastPathComponent
            let fifo = "\(directory)/config.fifo"
            #expect(mkfifo(fifo, 0o600) == 0)
            // Read as an empty config: whatever dns01 makes of that, it ends, without a trap.
            let empty = try await CLIRunner.run(["check", "-c", fifo, "-d", "example.test"])
            #expect([1, 2].contains(empty.status), "\(empty.status) \(empty.stderr)")
            #expect(!empty.stderr.contains("Fatal error"), "\(empty.stderr)")

            let csr = try await CLIRunner.run(["issue", "-c", config, "--csr", "/dev/zero"])
            #expect(csr.status == 2, "\(csr.stderr)")
            #expect(csr.stderr.contains("Cannot read the CSR /dev/zero: it is larger than 64 KiB, more than a CSR ever is."), "\(csr.stderr)")

            // Moved from TSIGKeyTests (keyFilesAreReadWithABound, missingFileNamesThePath) with
            // the reading itself: the DNS module parses key text, the provider reads the file.
            for (file, expected) in [("/dev/zero", "cannot read TSIG key file /dev/zero: it is larger than 64 KiB, more than a TSIG key file ever is."),
                                     ("/nonexistent/dns01.key", "cannot read TSIG key file /nonexistent/dns01.key: No such file or directory.")] {
                let keyed = "\(directory)/keyed.toml"
                try (String(contentsOfFile: config, encoding: .utf8) + "\ntsig_key_file = \"\(file)\"\n").write(toFile: keyed, atomically: true, encoding: .utf8)
                let result = try await CLIRunner.run(["check", "-c", keyed, "-d", "example.test"])
                #expect(result.status == 2, "\(result.stderr)")
                #expect(result.stderr.contains(expected), "\(result.stderr)")
            }
        }
    }

    static func withDirectory(_ body: (String) throws -> Void) throws {
        let directory = NSTemporaryDirectory() + "dns01-bounded-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(directory)
    }
}
