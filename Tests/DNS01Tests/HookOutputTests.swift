import Foundation
import DNS
@testable import Processes
import Providers
import Settings
import Testing

/// Hook output is read in one pass and kept bounded: a hook printing one 20 MB line costs a pass
/// over 20 MB, and the error quoting it stays one sentence.
@Suite("hook output")
struct HookOutputTests {
    /// Chunks as read from a pipe → the lines `onLine` sees, and the kept end of the stream.
    @Test(arguments: [
        (["a\nb", "c\n", "d"], ["a", "bc", "d"], "a\nbc\nd"),
        (["\n\n"], ["", ""], "\n\n"),
        (["abcdefgh", "ij\nxy\n"], ["abcd … (6 more bytes)", "xy"], "fghij\nxy\n"),
        (["123456789012"], ["1234 … (8 more bytes)"], "56789012"),
    ])
    func linesAreSplitAndBounded(_ chunks: [String], _ lines: [String], _ kept: String) {
        var splitter = ProcessRunner.LineSplitter(lineLimit: 4, keepLimit: 8)
        var seen: [String] = []
        for chunk in chunks { splitter.append(ArraySlice(Array(chunk.utf8))) { seen.append($0) } }
        splitter.finish { seen.append($0) }
        #expect(seen == lines)
        #expect(splitter.text == String(kept.suffix(8)))
    }

    static func script(_ body: String) throws -> (path: String, directory: String) {
        let directory = NSTemporaryDirectory() + "dns01-hook-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/hook.sh"
        // Written by a child process: a child another test forks meanwhile cannot inherit a
        // descriptor open for writing on it (exec would then fail with ETXTBSY).
        let written = try runProcess("/bin/sh", ["-c", "cat > \"$0\" && chmod 755 \"$0\"", path], stdin: "#!/bin/sh\n" + body)
        #expect(written.status == 0, "\(written.stderr)")
        return (path, directory)
    }

    static func provider(_ command: String) throws -> ShellProvider {
        let settings = Settings(context: "[[provider]] 'hook'", values: ["command": .string(command), "timeout": .string("300s")])
        return ShellProvider(name: "hook", zones: ["example.test"], config: try ShellProvider.Config(settings))
    }

    static let record = TXTRecord(name: "_acme-challenge.example.test", value: "v")

    /// One 20 MB line without a newline on stdout, then the real reason on stderr: the call takes
    /// a second or so alone, not the minutes the rescan of the growing line on every read cost
    /// (the bound leaves room for the full suite on two cores, where it once took 25 s), and the
    /// error quotes the reason.
    @Test func aTwentyMegabyteLineIsReadInOnePass() async throws {
        let (path, directory) = try Self.script("head -c 20000000 /dev/zero | tr '\\0' x\necho 'zone example.test is read-only' >&2\nexit 3\n")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let started = ContinuousClock.now
        await #expect { try await Self.provider(path).present([Self.record], zone: "example.test") } throws: { error in
            let text = "\(error)"
            return text.hasSuffix("exited with status 3: zone example.test is read-only") && text.count < 500
        }
        #expect(ContinuousClock.now - started < .seconds(90))
    }

    /// The long line is the last thing printed: the error quotes a bounded part of it.
    @Test func aTwentyMegabyteLastLineIsCutInTheError() async throws {
        let (path, directory) = try Self.script("head -c 20000000 /dev/zero | tr '\\0' x >&2\nexit 1\n")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let started = ContinuousClock.now
        await #expect { try await Self.provider(path).present([Self.record], zone: "example.test") } throws: { error in
            let text = "\(error)"
            return text.contains("exited with status 1: xxxx") && text.hasSuffix("x…") && text.count < 500
        }
        #expect(ContinuousClock.now - started < .seconds(90))
    }
}
