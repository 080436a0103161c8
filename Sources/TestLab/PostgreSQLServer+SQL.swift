import Foundation

extension PostgreSQLServer {
    /// The application name of the lab's own psql sessions, so that they are told apart from
    /// dns01's in the log.
    public static let psqlApplicationName = "dns01-lab-psql"

    /// Runs `sql` (one or more statements) with psql over the unix socket, as `dns01` on the
    /// database `dns01`, stopping at the first error; returns what the statements printed:
    /// rows only, one a line, fields separated by "|", without the final newline
    /// (`psql -X -A -t -q -v ON_ERROR_STOP=1`). For tests that read or set raw tables.
    @discardableResult
    public func psql(_ sql: String) throws -> String {
        try psql(sql, host: socketDirectory, environment: ["PGAPPNAME": Self.psqlApplicationName])
    }

    /// As `psql(_:)`, but over TCP to 127.0.0.1:`port` with a password (by default the lab's),
    /// which psql reads from PGPASSWORD in its environment, never its arguments: the connection
    /// dns01 makes through libpq. Throws when the server refuses the password.
    @discardableResult
    public func psqlOverTCP(_ sql: String, password: String? = nil,
                            applicationName: String = PostgreSQLServer.psqlApplicationName) throws -> String {
        try psql(sql, host: host, environment: [
            "PGPASSWORD": password ?? self.password, "PGAPPNAME": applicationName, "PGCONNECT_TIMEOUT": "10",
        ])
    }

    private func psql(_ sql: String, host: String, environment: [String: String]) throws -> String {
        let result = try run("\(binDirectory)/psql", [
            "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
            "-h", host, "-p", String(port), "-U", user, "-d", database, "-f", "-",
        ], environment: environment, input: sql)
        guard result.status == 0 else {
            let reason = result.errors.trimmingCharacters(in: .whitespacesAndNewlines)
            throw LabError("psql failed on the lab PostgreSQL at \(host) port \(port) (exit \(result.status)): \(reason)")
        }
        var output = result.output
        if output.hasSuffix("\n") { output.removeLast() }
        return output
    }

    /// The statements sessions named `applicationName` ran, in order, as the log has them
    /// (`log_statement = all`): simple-protocol queries ("statement: ...") and executions of
    /// extended-protocol ones, prepared or unnamed ("execute NAME: ..."), whose parameters the
    /// log gives apart (a DETAIL line) and are left out. A statement of several lines keeps them.
    public func statements(applicationName: String) -> [String] {
        let text = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        return Self.statements(inLog: text, applicationName: applicationName)
    }

    /// `statements(applicationName:)` over a log's text ("TIME [PID] APPLICATION LOG:  ..." lines).
    public static func statements(inLog text: String, applicationName: String) -> [String] {
        let marker = "\(applicationName) LOG:  "
        var statements: [String] = []
        var continuing = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            // A message's later lines start with a tab (postgres writes the whole message in one
            // write, so no other line comes between).
            if line.hasPrefix("\t") {
                if continuing, !statements.isEmpty { statements[statements.count - 1] += "\n" + line.dropFirst() }
                continue
            }
            continuing = false
            // "TIME [PID] ": the first "] " ends the prefix, whatever the message holds.
            guard let pidEnd = line.range(of: "] ") else { continue }
            let rest = line[pidEnd.upperBound...]
            guard rest.hasPrefix(marker) else { continue }
            let message = rest.dropFirst(marker.count)
            if message.hasPrefix("statement: ") {
                statements.append(String(message.dropFirst("statement: ".count)))
                continuing = true
            } else if message.hasPrefix("execute "), let colon = message.range(of: ": ") {
                statements.append(String(message[colon.upperBound...]))
                continuing = true
            }
        }
        return statements
    }
}
