import FoundationEssentials
import Glibc

/// Reads `dns01 storage export` needs beyond what a running machine asks for.
extension FleetDatabase {
    /// Every stored run history (JSON, as the core encodes it) by certificate name, including
    /// those of certificates that have no version (one that never succeeded).
    public func allHistories() throws -> [String: String] {
        let rows = try connection.query("SELECT name, history FROM dns01_history ORDER BY name")
        var result: [String: String] = [:]
        for row in 0..<rows.count { result[try rows.requiredText(row, "name")] = try rows.requiredText(row, "history") }
        return result
    }
}
