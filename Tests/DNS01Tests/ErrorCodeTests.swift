@testable import DNS01
import Foundation
import Testing

/// OperationError and UsageError carry a code as DNSError and ACMEError do (the redesign issue
/// §6), and the exit status follows the type.
@Suite("error codes") struct ErrorCodeTests {
    @Test func aBadCertificateNameIsAnInvalidArgument() {
        #expect {
            try CertificateStore.validateCertName("../etc")
        } throws: { error in
            (error as? UsageError)?.code == .invalidArgument && ExitStatus.code(for: error) == 2
        }
    }

    @Test func aCertificateLockHeldElsewhereIsLocked() throws {
        let directory = NSTemporaryDirectory() + "dns01-codes-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try CertificateLock(stateDir: directory, name: "a")
        defer { first.release() }
        #expect {
            _ = try CertificateLock(stateDir: directory, name: "a")
        } throws: { error in
            (error as? OperationError)?.code == .locked && ExitStatus.code(for: error) == 1
        }
    }

    @Test func defaultsAreTheGeneralCodes() {
        #expect(UsageError("x").code == .usage)
        #expect(OperationError("x").code == .failed)
    }
}
