import Foundation

/// A server the lab started: a child process with its output in files, stopped by pid. Spawned
/// with posix_spawn (`Spawn`), which leaves it no descriptor but its three: one started while
/// another thread held a pipe would otherwise keep that pipe open as long as it runs.
final class LabProcess: @unchecked Sendable {
    let name: String
    let pid: pid_t
    /// What `stop` and `terminate` send first: SIGTERM, or SIGINT for PostgreSQL (its "fast
    /// shutdown"; SIGTERM is "smart shutdown", which waits for every client to disconnect).
    let stopSignal: Int32
    /// Set once the exit was collected: a thread of its own waits for it (waitpid), so the
    /// server never stays a zombie, whose pid `kill(pid, 0)` would still find.
    private let exited = NSLock()
    private var exitStatus: Int32?

    init(name: String, executable: String, arguments: [String], environment: [String: String] = [:],
         directory: String, stopSignal: Int32 = SIGTERM) throws {
        self.name = name
        self.stopSignal = stopSignal
        guard FileManager.default.isExecutableFile(atPath: executable) else { throw LabError("cannot start \(executable): not an executable file") }
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        // Appended to, not truncated: a server started again (a restart) keeps the log of its
        // earlier runs, which tests read.
        let log = "\(directory)/\(name).log"
        let descriptor = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw LabError("cannot open \(log): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { if null >= 0 { close(null) } }
        do {
            pid = try Spawn.start(executable, arguments, environment: env, directory: directory,
                                  stdin: null, stdout: descriptor, stderr: descriptor)
        } catch {
            throw LabError("cannot start \(executable): \(error)")
        }
        Thread.detachNewThread { [self] in
            let status = (try? Spawn.wait(pid, executable)) ?? -1
            exited.withLock { exitStatus = status }
        }
    }

    /// Whether it still runs (its exit not yet collected).
    var isRunning: Bool { exited.withLock { exitStatus == nil } }

    /// The stop signal (SIGTERM), up to 5 s to exit, then SIGKILL; waits for the exit either way.
    func stop() {
        terminate()
        finish(by: Date().addingTimeInterval(5))
    }

    /// Sends the stop signal if the process runs (a lab signals all of its processes first, then waits).
    func terminate() {
        if isRunning { kill(pid, stopSignal) }
    }

    /// Waits for the exit until `deadline`, then SIGKILL and waits.
    func finish(by deadline: Date) {
        while isRunning && Date() < deadline { usleep(20_000) }
        if isRunning {
            kill(pid, SIGKILL)
            while isRunning { usleep(5_000) }
        }
    }
}

/// Why the lab could not start.
public struct LabError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs a short command to completion and returns its status and output (stdout and stderr
/// as written), through `CapturedRun`.
@discardableResult
func runCommand(_ executable: String, _ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String) {
    let result = try CapturedRun.run(executable, arguments, stdin: input, mergeOutput: true)
    return (result.status, result.stdout)
}

/// Finds executables on PATH and the usual sbin directories.
func which(_ name: String) -> String? {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/usr/bin:/sbin:/bin"
    return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}
