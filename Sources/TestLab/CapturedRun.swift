import Foundation
import Glibc

/// What a short command printed and how it ended.
public struct CapturedRun: Sendable {
    public var status: Int32
    public var stdoutData: Data
    public var stderrData: Data

    public var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
    public var stderr: String { String(decoding: stderrData, as: UTF8.self) }
    /// stdout, then stderr.
    public var output: String { stdout + stderr }

    /// Runs `executable` (a path) to its end and returns what it printed. `environment`
    /// replaces the caller's (nil: inherited); `stdin` is the child's standard input (nil:
    /// /dev/null); `mergeOutput` sends stderr into stdout, in the order they were written.
    ///
    /// Not through Foundation's Process and not through pipes. The tests of one process spawn
    /// children on many threads at once, and swift-corelibs-foundation's Process closes in a
    /// child only the descriptors that were open when it looked, so a pipe or socket another
    /// thread made meanwhile ends up in whatever long-lived server starts at that moment. Its
    /// owner then waits for an end that comes only when that server exits: CI saw `pg_isready`
    /// and `dig` checks hang for 90 s beside servers that were up, and Process's own exit
    /// socket leaked the same way (children left as zombies, their exits never noticed). Here
    /// the child closes every descriptor above stderr (posix_spawn's closefrom), its output
    /// goes to unlinked files read once it exited, and the exit comes from waitpid(2).
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                           directory: String? = nil, stdin: String? = nil, mergeOutput: Bool = false) throws -> CapturedRun {
        let out = try ScratchFile(), err = mergeOutput ? out : try ScratchFile()
        let input = try stdin.map { text -> ScratchFile in
            let file = try ScratchFile()
            try file.handle.write(contentsOf: Data(text.utf8))
            try file.handle.seek(toOffset: 0)
            return file
        }
        let null = input == nil ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1
        defer { if null >= 0 { close(null) } }

        let pid = try Spawn.start(executable, arguments, environment: environment ?? ProcessInfo.processInfo.environment,
                                  directory: directory, stdin: input?.descriptor ?? null, stdout: out.descriptor, stderr: err.descriptor)
        let status = try Spawn.wait(pid, executable)
        return CapturedRun(status: status, stdoutData: try out.contents(), stderrData: mergeOutput ? Data() : try err.contents())
    }
}

/// A file open for reading and writing whose name is already gone: nothing to clean up.
private final class ScratchFile {
    let handle: FileHandle
    var descriptor: Int32 { handle.fileDescriptor }

    init() throws {
        var template = Array("\(NSTemporaryDirectory())/dns01-test-output.XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw LabError("cannot create a temporary file: \(String(cString: strerror(errno)))") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    /// Everything written to it (the child's writes moved the shared offset: start over).
    func contents() throws -> Data {
        try handle.seek(toOffset: 0)
        return try handle.readToEnd() ?? Data()
    }
}

/// posix_spawn(3) for the lab's children, Foundation's Process left out (`CapturedRun` says why).
enum Spawn {
    /// Starts `executable` with the three descriptors as its stdin, stdout and stderr and none
    /// other, every signal at its default and none blocked (the spawning thread's mask would be
    /// inherited: a Python server never unblocks a blocked SIGTERM), in `directory`.
    static func start(_ executable: String, _ arguments: [String], environment: [String: String], directory: String?,
                      stdin: Int32, stdout: Int32, stderr: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        guard addCloseFrom(&actions, 3) == 0 else { throw LabError("cannot run \(executable): posix_spawn_file_actions_addclosefrom_np failed") }
        if let directory, addChdir(&actions, directory) != 0 {
            throw LabError("cannot run \(executable) in \(directory): posix_spawn_file_actions_addchdir_np failed")
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw LabError("cannot run \(executable): \(String(cString: strerror(result)))") }
        return pid
    }

    /// Waits for `pid` to end: its exit code, or the signal that ended it (as Process reports it).
    static func wait(_ pid: pid_t, _ executable: String) throws -> Int32 {
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 {
            guard errno == EINTR else { throw LabError("cannot wait for \(executable): \(String(cString: strerror(errno)))") }
        }
        return status(raw)
    }

    static func status(_ raw: Int32) -> Int32 {
        let signal = raw & 0x7f
        return signal == 0 ? (raw >> 8) & 0xff : signal
    }

    // glibc (2.34 and 2.29 on) declares these only under _GNU_SOURCE, which Swift's Glibc does not set.
    @_silgen_name("posix_spawn_file_actions_addclosefrom_np")
    private static func addCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32
    @_silgen_name("posix_spawn_file_actions_addchdir_np")
    private static func addChdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: UnsafePointer<CChar>) -> Int32
}
