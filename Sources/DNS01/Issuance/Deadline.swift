import Synchronization

/// Waits for work that may not notice cancellation (a libcurl transfer on the blocking pool)
/// with a time limit: the caller gets the work's result, or nil once `timeout` has passed, or a
/// `CancellationError` as soon as its task is cancelled (SIGTERM), without waiting for the work
/// to end. Work left behind finishes on its own (its own limits end it) and its result is dropped.
enum Deadline {
    static func run<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T? {
        try Task.checkCancellation()
        let race = Race<T?>()
        let work = Task {
            do { race.settle(.success(try await operation())) } catch { race.settle(.failure(error)) }
        }
        let timer = Task {
            try await Task.sleep(for: timeout)
            race.settle(.success(nil))
        }
        defer {
            timer.cancel()
            work.cancel()
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { race.install($0) }
        } onCancel: {
            race.settle(.failure(CancellationError()))
        }
    }

    /// The first outcome wins; the continuation is resumed exactly once, whether the outcome
    /// comes before or after it is installed.
    private final class Race<T: Sendable>: Sendable {
        private struct State {
            var continuation: CheckedContinuation<T, any Error>?
            var outcome: Result<T, any Error>?
            var settled = false
        }

        private let state = Mutex(State())

        func settle(_ outcome: Result<T, any Error>) {
            let continuation = state.withLock { state -> CheckedContinuation<T, any Error>? in
                guard !state.settled else { return nil }
                state.settled = true
                guard let continuation = state.continuation else {
                    state.outcome = outcome
                    return nil
                }
                state.continuation = nil
                return continuation
            }
            continuation?.resume(with: outcome)
        }

        func install(_ continuation: CheckedContinuation<T, any Error>) {
            let outcome = state.withLock { state -> Result<T, any Error>? in
                if let outcome = state.outcome {
                    state.outcome = nil
                    return outcome
                }
                state.continuation = continuation
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }
}
