@testable import DNS01
import Foundation
import Synchronization
import Testing

/// certbot runs its hooks one after another, but two certbot runs (or a hook and a straggler)
/// can meet at the state file's lock: waiting for it must not hold a thread of Swift's
/// cooperative pool (DESIGN.md: blocking calls never run there).
@Suite("certbot state lock")
struct CertbotStateLockTests {
    @Test func waitingForTheStateLockLeavesTheCooperativePoolFree() async throws {
        let stateDir = NSTemporaryDirectory() + "dns01-certbot-lock-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        let config = try Configuration.parse("""
            [acme]
            directory = "https://127.0.0.1:9/dir"
            state_dir = "\(stateDir)"

            [[provider]]
            name = "lab"
            type = "rfc2136"
            zones = ["example.test"]
            server = "127.0.0.1:9"
            """, path: "test.toml")
        let hook = CertbotHook(config: config, events: { _ in })
        try FileManager.default.createDirectory(atPath: "\(stateDir)/certbot", withIntermediateDirectories: true)
        // Another hook process holds the lock.
        let fd = open("\(stateDir)/certbot/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        try #require(fd >= 0 && flock(fd, LOCK_EX) == 0)

        // More waiters than the cooperative pool has threads.
        let waiters = ProcessInfo.processInfo.activeProcessorCount * 2 + 2
        let updates = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<waiters {
                    group.addTask {
                        _ = try await hook.update("\(stateDir)/certbot/run.json") { state in
                            state.challenges.append(.init(domain: "n\(index).example.test", validation: "v"))
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        // While they wait, other work on the cooperative pool goes on. The lock is released
        // from a thread of its own after that work ran, or after 60 s without it: the full suite
        // keeps the pool busy with other tests too, so the bound is wide; with the waiters on
        // the pool, nothing else would run before it.
        let ran = Mutex(false)
        let released = Mutex(false)
        Thread.detachNewThread {
            let deadline = Date().addingTimeInterval(60)
            while !ran.withLock({ $0 }) && Date() < deadline { usleep(10_000) }
            released.withLock { $0 = true }
            close(fd)
        }
        try await Task.sleep(for: .milliseconds(200))
        await Task.detached { ran.withLock { $0 = $0 || !released.withLock { $0 } } }.value
        try await updates.value
        #expect(ran.withLock { $0 }, "no cooperative task ran while the hooks waited for the lock")
        let state = try JSONDecoder().decode(CertbotHook.State.self, from: Data(contentsOf: URL(fileURLWithPath: "\(stateDir)/certbot/run.json")))
        #expect(state.challenges.count == waiters)
    }
}
