import ACME
import Clocks
@testable import DNS01
import Foundation
import ScriptedACME
import ScriptedHTTP
import Synchronization
import Testing

/// The issuance state machine on a scripted CA (real chains, no network), the scripted DNS side
/// and a ManualClock: minutes of simulated polling in milliseconds. The same flow against the
/// real Pebble and BIND is covered by the integration suites.
@Suite("issuance state machine")
struct IssuanceStateMachineTests {
    /// One coordinator's world: CA, DNS side, clock, state directory, and every event.
    final class World: Sendable {
        let ca: ScriptedCA
        let clock = ManualClock()
        let dns: ScriptedDNS
        let client: ACMEClient
        let config: Configuration
        let stateDir: String
        let events = Mutex<[Event]>([])

        init(options: ScriptedCA.Options = .init(), visibleAfter: [String: Int] = [:], neverVisible: Set<String> = [],
             failingZones: Set<String> = [], persisted: Set<String> = []) async throws {
            ca = try ScriptedCA(options: options)
            dns = ScriptedDNS(clock: clock, visibleAfter: visibleAfter, neverVisible: neverVisible, failingZones: failingZones,
                              persisted: persisted)
            stateDir = NSTemporaryDirectory() + "dns01-machine-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            // One order at a time, so order numbers follow the requests (the scripted URLs use them).
            config = try Configuration.parse("""
                [acme]
                directory = "\(ca.directoryURL)"
                state_dir = "\(stateDir)"
                concurrency = 1
                order_timeout = "300s"

                [dns]
                propagation_timeout = "60s"

                [[provider]]
                name = "scripted"
                type = "rfc2136"
                zones = ["a.test", "b.test", "c.test"]
                server = "127.0.0.1:9"
                """, path: "test.toml")
            client = ACMEClient(directoryURL: ca.directoryURL, transport: ca.transport, accountKey: try AccountKey.generate(), clock: clock)
            _ = try await client.newAccount(contact: [], termsOfServiceAgreed: true)
        }

        deinit { try? FileManager.default.removeItem(atPath: stateDir) }

        func run(_ requests: [IssueRequest]) async throws -> [Result<IssueResult, any Error>] {
            try await IssuanceCoordinator(requests: requests, environment: environment()).run()
        }

        func environment() -> IssuanceCoordinator.Environment {
            .init(config: config, client: client, dns: dns, store: CertificateStore(stateDir: stateDir), clock: clock,
                  events: { event in self.events.withLock { $0.append(event) } })
        }

        /// The phases a certificate went through, in order.
        func phases(_ name: String) -> [JobPhase] {
            events.withLock { events in
                events.compactMap { if case .job(name, let phase) = $0 { return phase } else { return nil } }
            }
        }

        func steps() -> [String] {
            events.withLock { $0.compactMap { if case .step(let text) = $0 { return text } else { return nil } } }
        }

        /// POSTs with a payload (not POST-as-GET) to `url`.
        func answers(to url: String) -> [RecordedRequest] {
            ca.transport.requests("POST", url).filter { $0.jws?.isPostAsGet == false }
        }
    }

    static func request(_ name: String, _ domains: [String], challenge: ChallengeKind? = nil) throws -> IssueRequest {
        var request = try IssueRequest(certName: name, domains: domains)
        request.challenge = challenge
        return request
    }

    static func message(_ result: Result<IssueResult, any Error>) -> String {
        if case .failure(let error) = result { return describe(error) }
        return ""
    }

    @Test func everyPhaseInOrderWithOneWriteAndOneWait() async throws {
        let world = try await World(options: .init(pendingPolls: 3, processingPolls: 2, retryAfter: 5),
                                    visibleAfter: ["_acme-challenge.b.test": 4])
        let results = try await world.run([try Self.request("a", ["*.a.test", "a.test"]), try Self.request("b", ["b.test"])])
        #expect(results.allSatisfy { if case .success = $0 { true } else { false } }, "\(results.map(Self.message))")
        let expected: [JobPhase] = [.ordered, .planned, .presented, .visible, .answered, .valid, .stored]
        #expect(world.phases("a") == expected)
        #expect(world.phases("b") == expected)
        // Three records (wildcard and apex side by side at one name), written in one call and
        // waited for in one wait, removed afterwards.
        #expect(world.dns.state.withLock { $0.presentCalls } == 1)
        #expect(world.dns.presented.count == 3)
        #expect(Set(world.dns.cleaned) == Set(world.dns.presented))
        // a's names were visible in the first round: it was answered before b's name was visible.
        let steps = world.steps()
        let answeredA = try #require(steps.firstIndex(of: "a: answered 2 challenge(s)"))
        let answeredB = try #require(steps.firstIndex(of: "b: answered 1 challenge(s)"))
        #expect(answeredA < answeredB)
        // Retry-After 5 s on the polls and four DNS rounds, on the test clock.
        #expect(world.clock.elapsed >= .seconds(15))
        let stored = try CertificateStore(stateDir: world.stateDir).currentCertificate("a")
        #expect(stored != nil)
        if case .success(let a) = results[0] { #expect(a.recordsPresented == 2) }
    }

    @Test func oneCertificateFailsAtTheCAAndTheOtherIsStored() async throws {
        let world = try await World(options: .init(failing: ["b.test": "no TXT record found at _acme-challenge.b.test"]))
        let results = try await world.run([try Self.request("a", ["a.test"]), try Self.request("b", ["b.test", "www.b.test"])])
        guard case .success = results[0] else { Issue.record("a failed: \(Self.message(results[0]))"); return }
        #expect(Self.message(results[1]).contains("rejected the dns-01 challenge for b.test"))
        #expect(Self.message(results[1]).contains("no TXT record found"))
        #expect(world.phases("b").last == .failed)
        #expect(world.phases("b").contains(.answered))
        // Every record written goes, the failed certificate's too.
        #expect(Set(world.dns.cleaned) == Set(world.dns.presented))
        #expect(world.ca.issued.count == 1)
    }

    @Test func aTimeoutAtOneNameFailsOnlyItsCertificateAndDeactivatesItsAuthorizations() async throws {
        let world = try await World(neverVisible: ["_acme-challenge.b.test"])
        let results = try await world.run([try Self.request("a", ["a.test"]), try Self.request("b", ["b.test", "www.b.test"])])
        guard case .success = results[0] else { Issue.record("a failed: \(Self.message(results[0]))"); return }
        #expect(Self.message(results[1]).contains("Timed out waiting for _acme-challenge.b.test"))
        #expect(world.phases("b") == [.ordered, .planned, .presented, .failed])
        // The wait lasted propagation_timeout on the test clock (a round a second), not in real
        // time: alone, this test takes about 0.2 s (no wall-clock bound here: under the full
        // suite on two cores the scheduler decides).
        #expect(world.clock.elapsed >= .seconds(60))
        #expect(world.dns.rounds >= 60)
        // b's challenges were never answered; its two pending authorizations are deactivated
        // (RFC 8555 §7.5.2), a's are not touched.
        for index in 0..<2 {
            #expect(world.answers(to: world.ca.challengeURL(order: 2, index: index)).isEmpty)
            let posts = world.answers(to: world.ca.authorizationURL(order: 2, index: index))
            #expect(posts.map { $0.jws?.payloadText } == [#"{"status":"deactivated"}"#])
        }
        #expect(world.answers(to: world.ca.authorizationURL(order: 1, index: 0)).isEmpty)
        #expect(world.steps().contains("deactivated 2 of 2 pending authorization(s) of 1 abandoned order(s)"))
        #expect(Set(world.dns.cleaned) == Set(world.dns.presented))
    }

    @Test func aProviderThatRefusesOneZoneFailsOnlyThatCertificate() async throws {
        let world = try await World(failingZones: ["b.test"])
        let results = try await world.run([try Self.request("a", ["a.test"]), try Self.request("b", ["b.test"])])
        guard case .success = results[0] else { Issue.record("a failed: \(Self.message(results[0]))"); return }
        #expect(Self.message(results[1]).contains("refused the records in b.test"))
        #expect(world.phases("b") == [.ordered, .planned, .failed])
        #expect(world.dns.state.withLock { $0.rounds } == 1)
    }

    @Test func badNonceExhaustionFailsTheCertificateWhoseRequestKeptFailing() async throws {
        let world = try await World()
        // Every answer to b's challenge is refused with badNonce: the sender re-signs with a
        // fresh nonce up to its bound, then the certificate fails; a is unaffected.
        let challenge = world.ca.challengeURL(order: 2, index: 0)
        world.ca.transport.on("POST", challenge) { _ in .problem("badNonce", detail: "JWS has an invalid anti-replay nonce") }
        let results = try await world.run([try Self.request("a", ["a.test"]), try Self.request("b", ["b.test"])])
        guard case .success = results[0] else { Issue.record("a failed: \(Self.message(results[0]))"); return }
        #expect(Self.message(results[1]).contains("rejected 20 nonces in a row"), "\(Self.message(results[1]))")
        #expect(world.ca.transport.requests("POST", challenge).count == 20)
        #expect(world.phases("b").last == .failed)
        #expect(!world.phases("b").contains(.answered))
    }

    @Test func anAuthorizationSharedByTwoCertificatesIsAnsweredOnceAndReusedWhenValid() async throws {
        var options = ScriptedCA.Options()
        options.reuseAuthorizations = true
        let world = try await World(options: options)
        let results = try await world.run([try Self.request("a", ["a.test", "www.a.test"]), try Self.request("b", ["a.test", "b.test"])])
        #expect(results.allSatisfy { if case .success = $0 { true } else { false } }, "\(results.map(Self.message))")
        // Order 2 got order 1's authorization for a.test: its challenge was answered once and
        // its record written once.
        #expect(world.answers(to: world.ca.challengeURL(order: 1, index: 0)).count == 1)
        #expect(world.dns.presented.count == 3)
        #expect(world.dns.presented.filter { $0.target.domain == "a.test" }.count == 1)
        // The next batch finds a.test valid at the CA: no record, no answer, reused.
        let before = world.dns.presented.count
        let again = try await world.run([try Self.request("c", ["a.test"])])
        guard case .success(let issued) = again[0] else { Issue.record("c failed: \(Self.message(again[0]))"); return }
        #expect(issued.authorizationsReused == 1 && issued.recordsPresented == 0)
        #expect(world.dns.presented.count == before)
        #expect(world.phases("c") == [.ordered, .planned, .visible, .answered, .valid, .stored])
    }

    @Test func dnsPersistIsAnsweredWithoutWritingOrWaiting() async throws {
        let world = try await World(options: .init(challengeTypes: ["dns-01", "dns-persist-01"]), persisted: ["a.test"])
        let results = try await world.run([try Self.request("a", ["*.a.test", "a.test"])])
        guard case .success(let issued) = results[0] else { Issue.record("failed: \(Self.message(results[0]))"); return }
        #expect(issued.recordsPresented == 0)
        #expect(world.dns.presented.isEmpty && world.dns.state.withLock { $0.rounds } == 0)
        #expect(world.phases("a") == [.ordered, .planned, .visible, .answered, .valid, .stored])
        for index in 0..<2 {
            #expect(world.answers(to: world.ca.challengeURL(order: 1, index: index, type: "dns-persist-01")).count == 1)
            #expect(world.answers(to: world.ca.challengeURL(order: 1, index: index)).isEmpty)
        }
        #expect(world.steps().contains("a: 2 name(s) validated by their dns-persist-01 record, no record needed"))
    }

    @Test func withoutAMatchingRecordDNSPersistFallsBackOrFailsWhenForced() async throws {
        let world = try await World(options: .init(challengeTypes: ["dns-01", "dns-persist-01"]))
        let results = try await world.run([try Self.request("auto", ["a.test"]), try Self.request("forced", ["b.test"], challenge: .dnsPersist01)])
        guard case .success(let issued) = results[0] else { Issue.record("auto failed: \(Self.message(results[0]))"); return }
        #expect(issued.recordsPresented == 1)
        #expect(Self.message(results[1]).contains("No _validation-persist.b.test record served by every authoritative server names ca.test"))
        #expect(Self.message(results[1]).contains("dns01 persist -d b.test"))
    }

    @Test func aForcedChallengeTypeTheCADoesNotOfferIsNamed() async throws {
        let world = try await World()
        let results = try await world.run([try Self.request("a", ["a.test"], challenge: .dnsAccount01)])
        #expect(Self.message(results[0]) == "The CA offers no dns-account-01 challenge for a.test (it offers dns-01).")
    }

    @Test func dnsAccountWritesAtTheAccountLabel() async throws {
        let world = try await World(options: .init(challengeTypes: ["dns-01", "dns-account-01"]))
        let results = try await world.run([try Self.request("a", ["*.a.test", "a.test"], challenge: .dnsAccount01)])
        guard case .success = results[0] else { Issue.record("failed: \(Self.message(results[0]))"); return }
        let label = DNSAccountLabel(accountURL: world.ca.accountURL).label
        #expect(Set(world.dns.presented.map(\.target.recordName)) == ["\(label)._acme-challenge.a.test"])
        #expect(world.dns.presented.count == 2)
        #expect(world.answers(to: world.ca.challengeURL(order: 1, index: 0, type: "dns-account-01")).count == 1)
    }

    @Test func challengeIsOneOfTheThreeDNSTypes() throws {
        let config = try ConfigFixture.parse("""
            [[certificate]]
            domains = ["a.test"]
            [[certificate]]
            domains = ["b.test"]
            challenge = "dns-persist-01"
            [[certificate]]
            domains = ["c.test"]
            challenge = "dns-account-01"
            """)
        #expect(config.certificates.map(\.challenge) == [nil, .dnsPersist01, .dnsAccount01])
        #expect { try ConfigFixture.parse("[[certificate]]\ndomains = [\"a.test\"]\nchallenge = \"http-01\"\n") }
            throws: { "\($0)" == "[[certificate]] 'a.test': challenge 'http-01' is not one of dns-01, dns-account-01, dns-persist-01." }
    }

    @Test(arguments: JobPhase.allCases)
    func phasesOnlyMoveForward(_ phase: JobPhase) {
        // No way back, and nothing after stored or failed.
        let order = JobPhase.allCases
        for next in phase.successors where next != .failed {
            #expect(order.firstIndex(of: next)! > order.firstIndex(of: phase)!)
        }
        #expect(phase.isTerminal == (phase == .stored || phase == .failed))
        #expect(phase.isTerminal || phase.successors.contains(.failed))
    }
}
