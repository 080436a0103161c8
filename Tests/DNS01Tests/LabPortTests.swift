import Foundation
import Testing
@testable import TestLab

/// The lab's ports: outside the kernel's ephemeral range, so that no client's source port (BIND's
/// own NOTIFY and SOA sockets included) can take one between the probe and the server's bind.
@Suite("lab ports")
struct LabPortTests {
    @Test func candidatesLieBelowTheEphemeralRange() {
        #expect(FreePort.candidates(ephemeral: 32768...60999) == 16384...32767)
        #expect(FreePort.candidates(ephemeral: 10000...65000) == 1024...9999)
        // Unreadable: the stock range is assumed.
        #expect(FreePort.candidates(ephemeral: nil) == 16384...32767)
        // A range that starts too low to leave room below: the ports above it.
        #expect(FreePort.candidates(ephemeral: 1024...50000) == 50001...65535)
    }

    @Test func handedOutPortsAreDistinctBindableAndOutsideThisMachinesEphemeralRange() throws {
        let ports = try (0..<20).map { _ in try FreePort.find(on: ["127.0.0.1"]) }
        #expect(Set(ports).count == ports.count)
        let ephemeral = FreePort.ephemeralRange() ?? 32768...60999
        #expect(ports.allSatisfy { !ephemeral.contains(Int($0)) }, "\(ports) within \(ephemeral)")
        #expect(ports.allSatisfy { FreePort.candidates().contains($0) })
    }
}
