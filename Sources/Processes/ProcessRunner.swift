import Blocking
import Clocks
import FoundationEssentials
import FoundationShim
import Glibc
import Synchronization

/// Runs an external program the way hooks must be run when dns01 is root on someone's server:
/// its own process group (so a timeout or a cancelled run kills the whole tree, not just the
/// shell), an explicit environment (secrets travel there, never in argv; dns01's own credential
/// variables are withheld by a `ChildEnvironment`), stdin from a string or
/// /dev/null, stdout and stderr read line by line as they come (bounded: see `LineSplitter`), and
/// a time limit.
///
/// Foundation's `Process` cannot put the child in a new process group, so this uses
/// `posix_spawn` with `POSIX_SPAWN_SETPGROUP`. Every blocking call (read, waitpid) runs on
/// `BlockingPool`, never on the cooperative pool.
public enum ProcessRunner {
    public enum Stream: Sendable { case stdout, stderr }

    public struct Output: Sendable {
        /// Exit status, or 128 + signal number when the process was killed.
        public var status: Int32
        /// The end of what the process wrote: at most `ProcessRunner.keptOutputBytes` of each stream.
        public var stdout: String
        public var stderr: String
        public var timedOut: Bool
        public var cancelled: Bool

        /// Longest `lastLine`, in characters: an error quoting it stays one readable sentence.
        public static let lastLineLimit = 300

        /// The last non-empty line of stderr (or stdout), for one-sentence errors; a longer line
        /// is cut at `lastLineLimit` characters.
        public var lastLine: String? {
            lastFullLine.map { $0.count > Self.lastLineLimit ? String($0.prefix(Self.lastLineLimit)) + "…" : $0 }
        }

        /// `lastLine` before it is cut: to redact secrets from (a secret cut in half would
        /// escape redaction) before clipping.
        public var lastFullLine: String? {
            for text in [stderr, stdout] {
                if let line = text.split(separator: "\n").last(where: { !$0.trimmingWhitespace().isEmpty }) {
                    return line.trimmingWhitespace()
                }
            }
            return nil
        }
    }

    public struct SpawnError: Error, Sendable, CustomStringConvertible {
        public var executable: String
        public var message: String
        public var description: String { message }
    }

    /// Runs `executable` (a path) with `arguments`. The child's environment is this process's
    /// environment less what `withholding` withholds, overlaid with `environment`. `onLine` sees each output line as it arrives.
    /// After `timeout` (or when the calling task is cancelled) the process group gets SIGTERM,
    /// then SIGKILL two seconds later.
    /// A child that exits without reading all its stdin must cost a write EPIPE, not the whole
    /// process: SIGPIPE is ignored process-wide once, before the first child (as SwiftNIO does).
    /// The CLI ignores it too; a test process or another host gets the same guarantee.
    private static let ignoringBrokenPipes: Void = { signal(SIGPIPE, SIG_IGN) }()

    public static func run(
        _ executable: String,
        arguments: [String],
        environment: [String: String] = [:],
        withholding policy: ChildEnvironment,
        input: String? = nil,
        timeout: Duration,
        onLine: @escaping @Sendable (Stream, String) -> Void = { _, _ in }
    ) async throws -> Output {
        let env = policy.environment(from: ProcessInfo.processInfo.environment, adding: environment)
        _ = ignoringBrokenPipes

        let stdinPipe = try makePipe(executable)
        let stdoutPipe = try makePipe(executable)
        let stderrPipe = try makePipe(executable)
        let pid: pid_t
        do {
            pid = try spawn(executable, arguments: arguments, environment: env,
                            stdin: stdinPipe.read, stdout: stdoutPipe.write, stderr: stderrPipe.write)
        } catch {
            for fd in [stdinPipe.read, stdinPipe.write, stdoutPipe.read, stdoutPipe.write, stderrPipe.read, stderrPipe.write] { close(fd) }
            throw error
        }
        close(stdinPipe.read)
        close(stdoutPipe.write)
        close(stderrPipe.write)

        let exited = ExitFlag()
        let inputData = Array((input ?? "").utf8)
        let stdinFD = stdinPipe.write
        // Feed stdin then close it, so a hook reading to EOF finishes.
        let feeding = Task {
            await BlockingPool.shared.run { writeAll(stdinFD, inputData); close(stdinFD) }
        }
        let outFD = stdoutPipe.read, errFD = stderrPipe.read
        let reading = Task {
            await BlockingPool.shared.run { readLines(stdout: outFD, stderr: errFD, exited: exited, onLine: onLine) }
        }

        let (status, timedOut, cancelled) = await withTaskCancellationHandler {
            await waitWithLimit(pid: pid, timeout: timeout)
        } onCancel: {
            kill(-pid, SIGTERM)
        }
        exited.set()
        _ = await feeding.value
        let (out, err) = await reading.value
        return Output(status: status, stdout: out, stderr: err, timedOut: timedOut, cancelled: cancelled)
    }

    // MARK: - Waiting

    private enum Wake: Sendable { case exited(Int32), timer, grace }

    private static func waitWithLimit(pid: pid_t, timeout: Duration) async -> (Int32, Bool, Bool) {
        await withTaskGroup(of: Wake.self) { group in
            group.addTask { .exited(await BlockingPool.shared.run { reap(pid) }) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return .timer
            }
            var timedOut = false
            var cancelled = false
            var status: Int32 = -1
            while let wake = await group.next() {
                switch wake {
                case .exited(let code):
                    status = code
                    group.cancelAll()
                case .timer:
                    if status >= 0 { continue }
                    if Task.isCancelled { cancelled = true } else { timedOut = true }
                    kill(-pid, SIGTERM)
                    // The grace period must run even when the task is cancelled.
                    group.addTask {
                        await BlockingPool.shared.run { usleep(2_000_000) }
                        return .grace
                    }
                case .grace:
                    if status < 0 { kill(-pid, SIGKILL) }
                }
                if status >= 0 { break }
            }
            // Anything the hook left behind in its group goes too once the hook is gone.
            if timedOut || cancelled { kill(-pid, SIGKILL) }
            return (status, timedOut, cancelled)
        }
    }

    /// waitpid, retried on EINTR; returns the exit status or 128 + signal.
    private static func reap(_ pid: pid_t) -> Int32 {
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 {
            if errno != EINTR { return 255 }
        }
        let signal = raw & 0x7f
        if signal == 0 { return (raw >> 8) & 0xff }
        return 128 + signal
    }

    // MARK: - Spawning

    private static func makePipe(_ executable: String) throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        // Glibc's pipe2 is not visible to Swift; close-on-exec is set right after.
        guard pipe(&fds) == 0 else {
            throw SpawnError(executable: executable, message: "Could not create a pipe to run \(executable): \(String(cString: strerror(errno))).")
        }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return (fds[0], fds[1])
    }

    private static func spawn(
        _ executable: String, arguments: [String], environment: [String: String],
        stdin: Int32, stdout: Int32, stderr: Int32
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        // Nothing else of dns01's: a pipe another task made just now (before its close-on-exec
        // was set) would otherwise stay open in this child, and that task would wait for its
        // end as long as the child runs.
        guard spawnAddCloseFrom(&actions, 3) == 0 else {
            throw SpawnError(executable: executable, message: "Could not run \(executable): posix_spawn_file_actions_addclosefrom_np failed.")
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw SpawnError(executable: executable, message: "Could not run \(executable): \(String(cString: strerror(result))).")
        }
        return pid
    }

    // MARK: - Pipes

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        // A hook that does not read stdin closes it; SIGPIPE is ignored (`ignoringBrokenPipes`), EPIPE ends this.
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }

    /// Reads both pipes until EOF, or until a second after the process exited (a background
    /// grandchild may keep a pipe open forever). Each byte is looked at once, and what is kept
    /// is bounded (`LineSplitter`): a hook printing one 20 MB line costs a pass over 20 MB,
    /// not a rescan of the growing line on every read.
    private static func readLines(
        stdout: Int32, stderr: Int32, exited: ExitFlag, onLine: @Sendable (Stream, String) -> Void
    ) -> (String, String) {
        var open: [(fd: Int32, stream: Stream)] = [(stdout, .stdout), (stderr, .stderr)]
        var splitters: [Stream: LineSplitter] = [.stdout: LineSplitter(), .stderr: LineSplitter()]
        var buffer = [UInt8](repeating: 0, count: 65536)
        var exitSeen: ContinuousClock.Instant?
        while !open.isEmpty {
            var pollFDs = open.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&pollFDs, nfds_t(pollFDs.count), 100)
            if ready < 0 && errno != EINTR { break }
            var stillOpen: [(fd: Int32, stream: Stream)] = []
            for (index, entry) in open.enumerated() {
                guard pollFDs[index].revents != 0 else { stillOpen.append(entry); continue }
                let count = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if count <= 0 {
                    if count < 0 && errno == EINTR { stillOpen.append(entry); continue }
                    close(entry.fd)
                    continue
                }
                let stream = entry.stream
                splitters[stream, default: LineSplitter()].append(buffer.prefix(min(count, buffer.count))) { onLine(stream, $0) }
                stillOpen.append(entry)
            }
            open = stillOpen
            if exited.isSet {
                let now = ContinuousClock.now
                if let seen = exitSeen {
                    if now - seen > .seconds(1) {
                        for entry in open { close(entry.fd) }
                        open = []
                    }
                } else {
                    exitSeen = now
                }
            }
        }
        for stream in [Stream.stdout, .stderr] {
            splitters[stream]?.finish { onLine(stream, $0) }
        }
        return (splitters[.stdout]?.text ?? "", splitters[.stderr]?.text ?? "")
    }
}

/// Set once the child has been reaped; read by the pipe reader thread.
private final class ExitFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

/// glibc 2.34's posix_spawn_file_actions_addclosefrom_np, declared only under _GNU_SOURCE.
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
private func spawnAddCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32
