import Foundation
import TestLab

/// Runs the built `dns01` executable, as a user would, and captures what it prints.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum CLIRunner {
    /// The `dns01` binary next to the test bundle (swift test builds every product).
    static var executable: String {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("dns01").path) {
            let parent = directory.deletingLastPathComponent()
            if parent.path == directory.path { break }
            directory = parent
        }
        return directory.appendingPathComponent("dns01").path
    }

    /// Runs dns01 on a thread of its own: waiting for a child on the cooperative pool would
    /// stall every other test on a 2-core machine (the pool has one thread per core).
    static func run(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) async throws -> CLIResult {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try runBlocking(arguments, environment: environment, stdin: stdin) })
            }
        }
    }

    static func runBlocking(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) throws -> CLIResult {
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "DNS01_CONFIG")
        for (key, value) in environment { env[key] = value }
        return try runProcess(executable, arguments, environment: env, stdin: stdin)
    }
}

/// Runs a program to its end and captures what it prints (`CapturedRun`: files, not pipes);
/// `environment` replaces the test's own (nil: inherit it), `stdin` is its standard input.
func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, stdin: String? = nil) throws -> CLIResult {
    let result = try CapturedRun.run(executable, arguments, environment: environment, stdin: stdin)
    return CLIResult(status: result.status, stdout: result.stdout, stderr: result.stderr)
}

/// Runs a tool and returns its status and its output (stdout, then stderr).
func runTool(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let result = try runProcess(executable, arguments)
    return (result.status, result.stdout + result.stderr)
}

/// `runProcess` on a thread of its own, for async tests: waiting for a child on the cooperative
/// pool (one thread per core) would stall every other test of the suite meanwhile.
func runProcessOffPool(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> CLIResult {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try runProcess(executable, arguments, environment: environment) })
        }
    }
}
