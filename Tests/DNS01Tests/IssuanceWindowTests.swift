@testable import DNS01
import ScriptedACME
import Testing

/// Issue 26 item 2: a bounded window of certificates in flight, one presentation and one
/// propagation wait per window (`IssuanceCoordinator.runWindowed`).
@Suite("issuance windows")
struct IssuanceWindowTests {
    typealias World = IssuanceStateMachineTests.World

    /// Issue 26 item 2: a run of more certificates than the window goes window by window, one
    /// write and one wait each; an account-wide refusal in one window asks nothing in the next.
    @Test func aRunLargerThanTheWindowPresentsOncePerWindow() async throws {
        let world = try await World()
        let requests = try (1...5).map { try IssuanceStateMachineTests.request("w\($0)", ["w\($0).b.test"]) }
        let results = try await IssuanceCoordinator.runWindowed(requests, window: 2, environment: world.environment())
        #expect(results.allSatisfy { if case .success = $0 { true } else { false } }, "\(results.map(IssuanceStateMachineTests.message))")
        #expect(world.dns.state.withLock { $0.presentCalls } == 3)
        #expect(world.steps().contains("window of 1 certificate(s): 5 to 5 of 5"), "\(world.steps())")
        #expect(Set(world.dns.cleaned) == Set(world.dns.presented))
    }

    @Test func aRunWithinTheWindowIsOneCoordinator() async throws {
        let world = try await World()
        let requests = try (1...3).map { try IssuanceStateMachineTests.request("w\($0)", ["w\($0).b.test"]) }
        let results = try await IssuanceCoordinator.runWindowed(requests, window: 3, environment: world.environment())
        #expect(results.count == 3)
        #expect(world.dns.state.withLock { $0.presentCalls } == 1)
        #expect(!world.steps().contains { $0.hasPrefix("window of") })
    }

    @Test func anAccountRefusalInOneWindowAsksNothingInTheNext() async throws {
        var options = ScriptedCA.Options()
        options.newOrderLimit = 3
        options.rateLimitRetryAfter = "3600"
        let world = try await World(options: options)
        let requests = try (1...8).map { try IssuanceStateMachineTests.request("w\($0)", ["w\($0).c.test"]) }
        let results = try await IssuanceCoordinator.runWindowed(requests, window: 2, environment: world.environment())
        #expect(results.prefix(3).allSatisfy { if case .success = $0 { true } else { false } })
        #expect(results.dropFirst(3).allSatisfy { RateLimitTests.rateLimit($0)?.isAccountWide == true })
        // Orders 1–3 made, the 4th refused (window 2); window 3 and 4 ask for none.
        #expect(world.answers(to: world.ca.newOrderURL).count == 4)
    }
}
