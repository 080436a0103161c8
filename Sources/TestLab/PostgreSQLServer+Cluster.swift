import Foundation

extension PostgreSQLServer {
    /// The unprivileged account initdb and postgres run as when the lab runs as root (both refuse
    /// root): Debian's `postgres` system user, else `nobody`.
    struct Account: Sendable {
        var name: String
        var uid: uid_t
        var gid: gid_t

        /// nil when not root: the servers then run as the caller.
        static func forServer() throws -> Account? {
            guard geteuid() == 0 else { return nil }
            for name in ["postgres", "nobody"] {
                if let entry = getpwnam(name) {
                    return Account(name: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
                }
            }
            throw LabError("running as root, and there is neither a postgres nor a nobody user to run PostgreSQL as (initdb and postgres refuse root)")
        }

        /// Throws unless every directory above `path` is searchable by this account.
        func checkCanReach(_ path: String) throws {
            var ancestor = URL(fileURLWithPath: path).deletingLastPathComponent()
            while true {
                var info = stat()
                guard stat(ancestor.path, &info) == 0 else { throw LabError("cannot read the mode of \(ancestor.path)") }
                let searchable = info.st_mode & S_IXOTH != 0 || (info.st_uid == uid && info.st_mode & S_IXUSR != 0)
                    || (info.st_gid == gid && info.st_mode & S_IXGRP != 0)
                guard searchable else {
                    throw LabError("PostgreSQL runs as \(name) (the lab runs as root), who cannot search \(ancestor.path): start it under a directory others can search, such as /tmp (TMPDIR)")
                }
                if ancestor.path == "/" { return }
                ancestor = ancestor.deletingLastPathComponent()
            }
        }
    }

    /// The command line that runs `executable` as the server's account: through setpriv, which
    /// execs (the pid stays the program's own; runuser would fork), when root.
    func command(_ executable: String, _ arguments: [String]) throws -> (executable: String, arguments: [String]) {
        guard let account else { return (executable, arguments) }
        guard let setpriv = which("setpriv") else {
            throw LabError("setpriv is not installed (util-linux), which the lab needs to run PostgreSQL as \(account.name) when it runs as root")
        }
        return (setpriv, ["--reuid=\(account.uid)", "--regid=\(account.gid)", "--init-groups", "--", executable] + arguments)
    }

    /// Gives `path` to the server's account (when root) with `mode`.
    func hand(_ path: String, mode: Int) throws {
        if let account, chown(path, account.uid, account.gid) != 0 {
            throw LabError("cannot give \(path) to \(account.name): \(String(cString: strerror(errno)))")
        }
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    /// initdb: superuser `dns01` with the password (read from a file, never an argument), host
    /// connections by scram-sha-256, socket ones trusted; then the lab's settings.
    func initializeCluster() throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: dataDirectory, withIntermediateDirectories: false)
        try hand(dataDirectory, mode: 0o700)
        try hand(socketDirectory, mode: 0o755)
        let initdbPasswordFile = "\(directory)/initdb-password"
        guard fm.createFile(atPath: initdbPasswordFile, contents: Data((password + "\n").utf8),
                            attributes: [.posixPermissions: 0o600]) else {
            throw LabError("cannot write \(initdbPasswordFile)")
        }
        defer { try? fm.removeItem(atPath: initdbPasswordFile) }
        try hand(initdbPasswordFile, mode: 0o600)
        guard fm.createFile(atPath: passwordFile, contents: Data(password.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw LabError("cannot write \(passwordFile)")
        }
        let (executable, arguments) = try command("\(binDirectory)/initdb", [
            "-D", dataDirectory, "-U", user, "--pwfile=\(initdbPasswordFile)",
            "--auth-host=scram-sha-256", "--auth-local=trust",
            "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions",
        ])
        let result = try run(executable, arguments)
        guard result.status == 0 else {
            throw LabError("initdb failed for \(dataDirectory) (exit \(result.status)): \(result.output)\(result.errors)")
        }
        // In postgresql.conf rather than on postgres's command line, so a restart reads them too.
        let settings = """

        # dns01 TestLab
        listen_addresses = '127.0.0.1'
        port = \(port)
        unix_socket_directories = '\(socketDirectory.replacingOccurrences(of: "'", with: "''"))'
        fsync = off
        log_statement = 'all'
        log_line_prefix = '%m [%p] %a '
        logging_collector = off
        log_destination = 'stderr'
        shared_buffers = 16MB
        max_connections = 100

        """
        let configuration = "\(dataDirectory)/postgresql.conf"
        guard let handle = FileHandle(forWritingAtPath: configuration) else { throw LabError("cannot open \(configuration)") }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(settings.utf8))
    }

    /// createdb `dns01`, over the socket.
    func createDatabase() throws {
        let result = try run("\(binDirectory)/createdb", ["-h", socketDirectory, "-p", String(port), "-U", user, database])
        guard result.status == 0 else {
            throw LabError("createdb \(database) failed on the lab PostgreSQL at port \(port): \(result.errors)")
        }
    }

    /// Runs a short command to completion in the server's directory, with no PG* variables
    /// from the caller's environment (a PGPASSWORD or PGSERVICE of the test run must not leak
    /// in) and `environment` added; returns its status, stdout and stderr apart.
    func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
             input: String? = nil) throws -> (status: Int32, output: String, errors: String) {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PG") }
        for (key, value) in environment { env[key] = value }
        let result: CapturedRun
        do {
            result = try CapturedRun.run(executable, arguments, environment: env, directory: directory, stdin: input)
        } catch {
            throw LabError("cannot run \(executable): \(error.localizedDescription)")
        }
        return (result.status, result.stdout, result.stderr)
    }
}
