import Files
import FoundationEssentials
import Glibc

/// The new orders this machine's runs made, for `[acme] max_new_orders`: their times in
/// `state_dir/history/.orders.json` (0600, written atomically), only those still inside the
/// window kept. A missing or damaged file counts as none (it limits this client, it guards no
/// secret: the CA's own limit still holds).
public struct NewOrderLedger: Sendable {
    public let path: String
    let budget: Configuration.NewOrderBudget

    public init(stateDir: String, budget: Configuration.NewOrderBudget) {
        path = stateDir + "/history/.orders.json"
        self.budget = budget
    }

    struct File: Codable { var orders: [Date] }

    var window: TimeInterval { Double(budget.window.components.seconds) }

    /// The orders inside the window that ends at `now`, oldest first.
    public func orders(at now: Date) -> [Date] {
        guard FileSystem.exists(path), let bytes = try? FileSystem.readBytes(path, limit: .state),
              let file = try? RunHistoryStore.decoder.decode(File.self, from: Data(bytes)) else { return [] }
        return file.orders.filter { $0 > now.addingTimeInterval(-window) && $0 <= now }.sorted()
    }

    /// How many new orders a run at `now` may make, and when, once it made them, the window
    /// frees the next place.
    public func allowance(at now: Date) -> (count: Int, next: Date) {
        let orders = orders(at: now)
        let left = max(0, budget.count - orders.count)
        // The window after this run: these orders and `left` more now; the oldest leave first.
        let after = orders + Array(repeating: now, count: left)
        let freeing = after[max(0, after.count - budget.count)]
        return (left, freeing.addingTimeInterval(window))
    }

    /// Adds `count` orders made at `now`.
    public func record(_ count: Int, at now: Date) throws {
        guard count > 0 else { return }
        let orders = self.orders(at: now) + Array(repeating: now, count: count)
        try FileSystem.createDirectory(FileSystem.directoryName(path))
        try FileSystem.writeAtomically(Array(try RunHistoryStore.encoder.encode(File(orders: orders))), to: path, mode: 0o600)
    }
}
