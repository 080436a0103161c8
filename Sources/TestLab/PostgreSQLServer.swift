import Foundation
import Glibc

/// A throw-away PostgreSQL for tests and the demo: Debian's server binaries (the highest major
/// under /usr/lib/postgresql), a cluster made by `initdb` in a temp directory, and `postgres`
/// itself as a child process (not `pg_ctl start`, which daemonizes), listening on 127.0.0.1 at a
/// free port and on a unix socket in its directory. Host connections need the password
/// (scram-sha-256) of the superuser `dns01`, random per server; socket connections are trusted
/// (`psql`). Every statement is logged with its session's application name, and `fsync` is off.
///
/// initdb and postgres refuse to run as root: as root they run as the `postgres` system user
/// (`nobody` without it), through setpriv, which execs, so `pid` is postgres's own.
///
/// Start one alone with `start(in:)` (storage tests need no DNS or CA), or beside a lab with
/// `TestLab.startPostgreSQL()`, whose `stop()` stops it too.
public final class PostgreSQLServer: @unchecked Sendable {
    public let host = "127.0.0.1"
    public let port: UInt16
    /// The superuser, which owns `database`.
    public let user = "dns01"
    /// The superuser's password, random per server.
    public let password: String
    public let database = "dns01"
    /// The server's directory: its cluster (`data`), socket directory, password file and log.
    public let directory: String
    /// The directory of postgres's unix socket (`-h` of psql; host= of a libpq connection string).
    public let socketDirectory: String
    /// The directory of the server binaries (/usr/lib/postgresql/MAJOR/bin).
    public let binDirectory: String
    /// postgres's stderr: with `logging_collector` off, the whole server log, every statement in
    /// it (`log_statement = all`), each line prefixed "TIME [PID] APPLICATION ".
    public var logFile: String { "\(directory)/\(Self.processName).log" }
    /// The cluster's data directory.
    public var dataDirectory: String { "\(directory)/data" }
    /// A file holding `password` and nothing else (0600).
    public var passwordFile: String { "\(directory)/password" }

    /// postgresql://dns01:PASSWORD@127.0.0.1:PORT/dns01
    public var url: String { "postgresql://\(user):\(password)@\(host):\(port)/\(database)" }
    /// `url` without the password, for printing.
    public var urlWithoutPassword: String { "postgresql://\(user)@\(host):\(port)/\(database)" }
    /// The libpq environment of a password connection over TCP (PGHOST, PGPORT, PGUSER,
    /// PGPASSWORD, PGDATABASE), for a child process that connects.
    public var libpqEnvironment: [String: String] {
        ["PGHOST": host, "PGPORT": String(port), "PGUSER": user, "PGPASSWORD": password, "PGDATABASE": database]
    }

    /// The postmaster's pid while it runs; nil once stopped.
    public var pid: Int32? {
        lock.withLock { process.flatMap { $0.isRunning ? $0.pid : nil } }
    }

    public var isRunning: Bool { pid != nil }

    static let processName = "postgres"
    /// Who runs initdb and postgres: nil when not root.
    let account: Account?
    /// The lab whose `stop()` stops this server too (its processes list holds the running one).
    private weak var lab: TestLab?
    /// Removed by `stopAndRemove()`: true for a server started alone in a directory of its own.
    private let ownsDirectory: Bool
    /// A socket directory under /tmp, made when `directory` is too long for a socket path.
    private let separateSocketDirectory: Bool
    private let lock = NSLock()
    private var process: LabProcess?

    init(directory: String, socketDirectory: String, separateSocketDirectory: Bool, binDirectory: String,
         port: UInt16, password: String, account: Account?, lab: TestLab?, ownsDirectory: Bool) {
        self.directory = directory
        self.socketDirectory = socketDirectory
        self.separateSocketDirectory = separateSocketDirectory
        self.binDirectory = binDirectory
        self.port = port
        self.password = password
        self.account = account
        self.lab = lab
        self.ownsDirectory = ownsDirectory
    }

    /// Makes a cluster in a new directory under `directory` (default: the temp directory),
    /// starts postgres, creates the database `dns01`, and returns once it accepts connections.
    public static func start(in directory: String? = nil) async throws -> PostgreSQLServer {
        let base = directory ?? FileManager.default.temporaryDirectory.path
        let path = "\(base)/dns01-pg-\(getpid())-\(UUID().uuidString.prefix(8))"
        return try await start(at: path, lab: nil, ownsDirectory: true)
    }

    /// Makes and starts a server in `path`, which must not exist yet.
    static func start(at path: String, lab: TestLab?, ownsDirectory: Bool) async throws -> PostgreSQLServer {
        let binDirectory = try Self.findBinDirectory()
        let account = try Account.forServer()
        let fm = FileManager.default
        try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
        // Searchable by the account postgres runs as (which needs nothing else of it).
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        if let account { try account.checkCanReach(path) }
        let port = try FreePort.find(on: ["127.0.0.1"])
        // A socket path is at most 107 bytes (sun_path); postgres adds "/.s.PGSQL.PORT".
        var socketDirectory = "\(path)/s"
        var separate = false
        if socketDirectory.utf8.count + "/.s.PGSQL.65535".utf8.count > 107 {
            var template = Array("/tmp/dns01-pg-XXXXXX".utf8CString)
            guard mkdtemp(&template) != nil else { throw LabError("cannot make a socket directory under /tmp for PostgreSQL") }
            socketDirectory = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            separate = true
        } else {
            try fm.createDirectory(atPath: socketDirectory, withIntermediateDirectories: false)
        }
        let server = PostgreSQLServer(directory: path, socketDirectory: socketDirectory, separateSocketDirectory: separate,
                                      binDirectory: binDirectory, port: port, password: Self.randomPassword(),
                                      account: account, lab: lab, ownsDirectory: ownsDirectory)
        do {
            try await Self.offPool { try server.initializeCluster() }
            try await server.launch()
            try await Self.offPool { try server.createDatabase() }
        } catch {
            // Each step's error has its output (initdb's, createdb's, the server log's end).
            server.stopAndRemove()
            throw error
        }
        return server
    }

    /// Fast shutdown (SIGINT: open transactions are rolled back, sessions ended, a checkpoint
    /// written) by pid, waiting for the postmaster to exit, which it does after all of its
    /// children; SIGKILL after 10 s. The cluster stays: `restart()` starts it again.
    public func stop() {
        guard let process = lock.withLock({ self.process }) else { return }
        process.terminate()
        process.finish(by: Date().addingTimeInterval(10))
        lock.withLock {
            if self.process === process { self.process = nil }
        }
        lab?.forget(process)
    }

    /// A crash: SIGKILL to the postmaster and every process it started, as when the machine
    /// goes down, waiting until they are gone. `restart()` then runs crash recovery.
    public func kill() {
        guard let process = lock.withLock({ self.process }) else { return }
        let children = Self.children(of: process.pid)
        _ = Glibc.kill(process.pid, SIGKILL)
        for child in children { _ = Glibc.kill(child, SIGKILL) }
        process.finish(by: Date().addingTimeInterval(10))
        // The children are reparented and reaped by someone else: wait until they are gone or
        // zombies, so that a restart finds no process still attached to the shared memory.
        let deadline = Date().addingTimeInterval(10)
        while children.contains(where: Self.isAlive) && Date() < deadline { usleep(10_000) }
        lock.withLock {
            if self.process === process { self.process = nil }
        }
        lab?.forget(process)
    }

    /// Stops the server if it runs and starts it again on the same port with the same cluster;
    /// returns once it accepts connections.
    public func restart() async throws {
        try await Self.offPool { [self] in stop() }
        try await launch()
    }

    /// Stops the server and removes its directory (kept with DNS01_KEEP_LAB set, as a lab's).
    public func stopAndRemove() {
        stop()
        guard ProcessInfo.processInfo.environment["DNS01_KEEP_LAB"] == nil else { return }
        if ownsDirectory { try? FileManager.default.removeItem(atPath: directory) }
        if separateSocketDirectory { try? FileManager.default.removeItem(atPath: socketDirectory) }
    }

    /// A server started alone stops with its last reference; a lab's runs until the lab stops.
    deinit {
        if ownsDirectory { stopAndRemove() }
    }

    /// Starts postgres on the existing cluster and waits until `pg_isready` says it accepts
    /// connections (60 s at most).
    func launch() async throws {
        let (executable, arguments) = try command("\(binDirectory)/postgres", ["-D", dataDirectory])
        let process = try LabProcess(name: Self.processName, executable: executable, arguments: arguments,
                                     directory: directory, stopSignal: SIGINT)
        lock.withLock { self.process = process }
        lab?.processes.append(process)
        let deadline = Date().addingTimeInterval(60)
        while true {
            guard process.isRunning else {
                throw LabError("postgres exited at start (\(dataDirectory), port \(port)):\n\(logTail())")
            }
            let ready = try await Self.offPool { [self] in
                try run("\(binDirectory)/pg_isready", ["-q", "-h", host, "-p", String(port), "-d", "postgres", "-U", user])
            }
            if ready.status == 0 { return }
            guard Date() < deadline else {
                throw LabError("timed out waiting for PostgreSQL to accept connections at \(host):\(port):\n\(logTail())")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The last lines of the server log.
    func logTail(lines: Int = 20) -> String {
        let text = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    /// The highest major under /usr/lib/postgresql with both initdb and postgres.
    static func findBinDirectory() throws -> String {
        let root = "/usr/lib/postgresql"
        let majors = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap { Int($0) }
        for major in majors.sorted(by: >) {
            let bin = "\(root)/\(major)/bin"
            if ["initdb", "postgres", "pg_isready", "psql", "createdb"].allSatisfy({ FileManager.default.isExecutableFile(atPath: "\(bin)/\($0)") }) {
                return bin
            }
        }
        throw LabError("the PostgreSQL server is not installed (no \(root)/MAJOR/bin/initdb and postgres): apt-get install postgresql")
    }

    /// 32 letters and digits: nothing a URL or a connection string must escape.
    static func randomPassword() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<32).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// The pids whose parent is `pid`, from /proc.
    static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { candidate in
            guard let stat = try? String(contentsOfFile: "/proc/\(candidate)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, so after the last ")".
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid
        }
    }

    /// True while `pid` exists and is not a zombie.
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
    }

    /// Runs `body` on a thread of its own and waits for it there, never on the cooperative pool
    /// (one thread per core) that other tests need: `body` waits for a child process.
    public static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }
}
