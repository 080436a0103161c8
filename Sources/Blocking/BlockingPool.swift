import Glibc

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

    private let condition = Condition()
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
            Self.startThread(stackSize: 512 * 1024) { [self] in self.loop() }
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

    /// Starts a detached OS thread running `body`.
    private static func startThread(stackSize: Int, _ body: @escaping () -> Void) {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackSize)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, &attributes, { argument in
            guard let argument else { return nil }
            let body = Unmanaged<ThreadBody>.fromOpaque(argument).takeRetainedValue()
            body.run()
            return nil
        }, box)
        // Without a thread the queued work would never run: that is not a state to go on in.
        precondition(result == 0, "pthread_create failed: \(result)")
    }
}

/// A closure handed to a new thread.
private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// A mutex with one condition variable (pthreads), what `NSCondition` was here.
final class Condition: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    func wait() { pthread_cond_wait(cond, mutex) }
    func signal() { pthread_cond_signal(cond) }
}
