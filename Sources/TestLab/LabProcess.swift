import Foundation

/// A server the lab started: a child process with its output in files, stopped by pid.
final class LabProcess: @unchecked Sendable {
    let name: String
    let process: Process
    /// What `stop` and `terminate` send first: SIGTERM, or SIGINT for PostgreSQL (its "fast
    /// shutdown"; SIGTERM is "smart shutdown", which waits for every client to disconnect).
    let stopSignal: Int32

    init(name: String, executable: String, arguments: [String], environment: [String: String] = [:],
         directory: String, stopSignal: Int32 = SIGTERM) throws {
        self.name = name
        self.stopSignal = stopSignal
        process = Process()
        guard FileManager.default.isExecutableFile(atPath: executable) else { throw LabError("cannot start \(executable): not an executable file") }
        // Through env(1), which resets every signal to its default and unblocks it: the child
        // inherits the spawning thread's signal mask, in which SIGTERM may be blocked, and a
        // Python server never unblocks it (stops then waited 5 s for SIGKILL).
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["--default-signal", executable] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        // Appended to, not truncated: a server started again (a restart) keeps the log of its
        // earlier runs, which tests read.
        let log = "\(directory)/\(name).log"
        let descriptor = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw LabError("cannot open \(log): \(String(cString: strerror(errno)))") }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw LabError("cannot start \(executable): \(error.localizedDescription)")
        }
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    /// The stop signal (SIGTERM), up to 5 s to exit, then SIGKILL; waits for the exit either way.
    func stop() {
        terminate()
        finish(by: Date().addingTimeInterval(5))
    }

    /// Sends the stop signal if the process runs (a lab signals all of its processes first, then waits).
    func terminate() {
        if process.isRunning { kill(pid, stopSignal) }
    }

    /// Waits for the exit until `deadline`, then SIGKILL and waits.
    func finish(by deadline: Date) {
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Why the lab could not start.
public struct LabError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs a short command to completion and returns its status and output.
@discardableResult
func runCommand(_ executable: String, _ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    let inputPipe = Pipe()
    process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe
    try process.run()
    if let input {
        inputPipe.fileHandleForWriting.write(Data(input.utf8))
        try? inputPipe.fileHandleForWriting.close()
    }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Finds executables on PATH and the usual sbin directories.
func which(_ name: String) -> String? {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/usr/bin:/sbin:/bin"
    return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}
