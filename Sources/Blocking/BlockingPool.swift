import Foundation

/// A small pool of dedicated OS threads for blocking C calls (libldns, libcurl).
///
/// Swift's cooperative pool has one thread per core; a blocking `recvfrom` or
/// `curl_easy_perform` there starves every other task. DESIGN.md: "Blocking C calls
/// never run on Swift's cooperative thread pool." Work submitted here runs on threads
/// this pool owns, created on demand up to `maxThreads` and kept for reuse.
public final class BlockingPool: @unchecked Sendable {
    /// The process-wide pool. 64 threads: enough to query every address of every
    /// nameserver of a large batch concurrently, small next to the kernel's limits.
    public static let shared = BlockingPool(maxThreads: 64)

    private let condition = NSCondition()
    private var queue: [() -> Void] = []
    private var threads = 0
    private var idle = 0
    private let maxThreads: Int

    public init(maxThreads: Int) {
        precondition(maxThreads > 0)
        self.maxThreads = maxThreads
    }

    /// Runs `body` on a pool thread and resumes the caller with its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            submit {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
        }
    }

    /// Runs a non-throwing `body` on a pool thread.
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            submit { continuation.resume(returning: body()) }
        }
    }

    private func submit(_ work: @escaping () -> Void) {
        condition.lock()
        queue.append(work)
        // Every queued item needs a thread of its own: idle threads already woken for earlier
        // items are still counted as idle until they run, so compare with the queue length.
        if queue.count > idle && threads < maxThreads {
            threads += 1
            let thread = Thread { [self] in self.loop() }
            thread.name = "dns01-blocking"
            thread.stackSize = 512 * 1024
            thread.start()
        } else {
            condition.signal()
        }
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            idle += 1
            while queue.isEmpty { condition.wait() }
            idle -= 1
            let work = queue.removeFirst()
            condition.unlock()
            work()
        }
    }
}
