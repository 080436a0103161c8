import Foundation

extension TestLab {
    /// Starts PostgreSQL beside the lab's servers, in DIR/postgresql (`PostgreSQLServer`); the
    /// lab's `stop()` stops it with the rest. Returns once it accepts connections and has the
    /// database `dns01`.
    /// One per lab; it runs until the lab stops, whether or not the returned handle is kept.
    public func startPostgreSQL() async throws -> PostgreSQLServer {
        let path = "\(directory)/postgresql"
        guard !FileManager.default.fileExists(atPath: path) else {
            throw LabError("the lab already has a PostgreSQL, in \(path)")
        }
        if geteuid() == 0 {
            // postgres then runs as another user, who must be able to pass through the lab's
            // directory (search only: what is in it keeps its own modes, keys 0600).
            var info = stat()
            if stat(directory, &info) == 0, info.st_mode & S_IXOTH == 0 {
                chmod(directory, (info.st_mode & 0o7777) | S_IXOTH)
            }
        }
        return try await PostgreSQLServer.start(at: path, lab: self, ownsDirectory: false)
    }

    /// Takes a stopped process off the lab's list: the lab's readiness polls fail when one of
    /// its processes has exited.
    func forget(_ process: LabProcess) {
        processes.removeAll { $0 === process }
    }
}
