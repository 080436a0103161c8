/// Names being changed by a read-modify-write in this process (Route 53, Google Cloud DNS,
/// Azure DNS replace whole record sets): a call waits until none of its names is held by
/// another, so the values of a wildcard and its apex (one name) never overwrite each other.
actor NameLocks {
    private var busy: Set<String> = []
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// Waits until none of `names` is held by another call, then holds them all.
    func hold(_ names: Set<String>) async {
        while !busy.isDisjoint(with: names) {
            await withCheckedContinuation { waiting.append($0) }
        }
        busy.formUnion(names)
    }

    func release(_ names: Set<String>) {
        busy.subtract(names)
        let woken = waiting
        waiting = []
        for continuation in woken { continuation.resume() }
    }

}
