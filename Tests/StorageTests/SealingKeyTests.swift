import Foundation
import Settings
import Storage
import Testing

/// The key that seals private keys for the fleet's database (`[storage] key_file`): AES-256-GCM
/// bound to a context, and the key file's forms and checks.
@Suite("sealing key")
struct SealingKeyTests {
    static let pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"
    static let key = SealingKey(bytes: Array(0..<32))

    @Test func sealThenOpenGivesThePlaintextBack() throws {
        let sealed = try Self.key.seal(Self.pem, context: "dns01 certificate key a version 1")
        #expect(Self.key.open(sealed, context: "dns01 certificate key a version 1") == Self.pem)
        // nonce (12) ‖ ciphertext ‖ tag (16), and nothing of the plaintext readable in it.
        #expect(sealed.count == 12 + Self.pem.utf8.count + 16)
        #expect(!String(decoding: sealed, as: UTF8.self).contains("PRIVATE KEY"))
        // A fresh nonce each time: the same key sealed twice gives two different values.
        #expect(try Self.key.seal(Self.pem, context: "c") != Self.key.seal(Self.pem, context: "c"))
    }

    @Test func theWrongContextOrKeyOpensNothing() throws {
        let sealed = try Self.key.seal(Self.pem, context: "dns01 certificate key a version 1")
        #expect(Self.key.open(sealed, context: "dns01 certificate key a version 2") == nil)
        #expect(Self.key.open(sealed, context: "dns01 certificate key b version 1") == nil)
        #expect(Self.key.open(sealed, context: "") == nil)
        #expect(SealingKey(bytes: Array(1...32)).open(sealed, context: "dns01 certificate key a version 1") == nil)
    }

    /// One flipped bit anywhere (nonce, ciphertext, tag), a cut, or bytes too short to be a
    /// sealed box: nil, never a trap.
    @Test func changedBytesOpenNothing() throws {
        let context = "dns01 account key https://ca.example/dir"
        let sealed = try Self.key.seal(Self.pem, context: context)
        for index in [0, 11, 12, sealed.count / 2, sealed.count - 17, sealed.count - 1] {
            var changed = sealed
            changed[index] ^= 0x01
            #expect(Self.key.open(changed, context: context) == nil, "byte \(index)")
        }
        #expect(Self.key.open(Array(sealed.dropLast()), context: context) == nil)
        #expect(Self.key.open(Array(sealed.prefix(27)), context: context) == nil)
        #expect(Self.key.open([], context: context) == nil)
    }

    // MARK: The key file

    static func write(_ text: String, mode: Int = 0o600) throws -> String {
        let directory = NSTemporaryDirectory() + "dns01-sealing-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/pg.key"
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
            throw ConfigError("cannot write \(path)")
        }
        return path
    }

    static let hex = (0..<32).map { String(format: "%02x", $0 * 7 + 3) }.joined()
    static let bytes = (0..<32).map { UInt8($0 * 7 + 3) }

    /// `openssl rand -hex 32` (either case) and `head -c 32 /dev/urandom | base64`, with or
    /// without the newline those commands end with, are one and the same key.
    @Test(arguments: [hex + "\n", hex.uppercased(), Data(bytes).base64EncodedString() + "\n", "  " + hex + "  "])
    func aKeyFileInEitherFormReadsAsTheSameKey(text: String) throws {
        let path = try Self.write(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let key = try SealingKey(file: path)
        let sealed = try SealingKey(bytes: Self.bytes).seal(Self.pem, context: "x")
        #expect(key.open(sealed, context: "x") == Self.pem)
    }

    /// Not 32 bytes, or neither hex nor base64: a ConfigError naming the file and saying what it
    /// must hold, never quoting it.
    @Test(arguments: [
        String(hex.dropLast(2)),                        // 31 bytes in hex
        hex + "00",                                     // 33 bytes in hex
        String(repeating: "g", count: 64),              // 64 characters, not hex, not base64
        String(repeating: "Q", count: 64),              // 64 characters of base64, not hex: 48 bytes
        Data(bytes.prefix(16)).base64EncodedString(),   // base64 of 16 bytes
        "not a key at all",
    ])
    func aKeyOfTheWrongLengthOrFormIsRefused(text: String) throws {
        let path = try Self.write(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = try #require(throws: ConfigError.self) { try SealingKey(file: path) }
        #expect(error.message.contains(path) && error.message.contains("32 random bytes"), "\(error.message)")
        #expect(!error.message.contains(text))
    }

    @Test func aKeyFileOthersCanReadIsRefused() throws {
        let path = try Self.write(Self.hex, mode: 0o644)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = try #require(throws: ConfigError.self) { try SealingKey(file: path) }
        #expect(error.message.contains(path) && error.message.contains("mode 644") && error.message.contains("chmod 600"), "\(error.message)")
        #expect(!error.message.contains(Self.hex))
    }

    @Test func aMissingOrEmptyKeyFileIsRefused() throws {
        let missing = NSTemporaryDirectory() + "dns01-no-such-key-\(UInt32.random(in: 0...UInt32.max))"
        let error = try #require(throws: ConfigError.self) { try SealingKey(file: missing) }
        #expect(error.message.contains(missing))
        let empty = try Self.write("\n")
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let emptyError = try #require(throws: ConfigError.self) { try SealingKey(file: empty) }
        #expect(emptyError.message.contains("\(empty) is empty"), "\(emptyError.message)")
    }
}
