import Crypto
import Files
import FoundationEssentials
import Glibc
import Settings

/// The key that seals private keys before they go into the shared database (`[storage]
/// key_file`): AES-256-GCM, so a dump of the database alone yields no usable private key, and a
/// sealed value changed or moved to another row fails to open.
///
/// The file holds 32 random bytes written as 64 hex digits or as base64 (`openssl rand -hex 32`,
/// `head -c 32 /dev/urandom | base64`), mode 0600 like every secret file. Every machine of the
/// fleet needs the same key.
public struct SealingKey: Sendable {
    /// The raw key (SymmetricKey is not Sendable; one is made per use).
    private let bytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: bytes) }

    /// Reads and checks the key file; errors name the file, never its content.
    public init(file path: String, context: String = "[storage]") throws {
        let text = try SecretFile.read(path, context: context, what: "key_file")
        guard let bytes = Self.decode(text), bytes.count == 32 else {
            throw ConfigError("\(context): key_file \(path) must hold 32 random bytes as 64 hex digits or base64 (openssl rand -hex 32 > \(path)).")
        }
        self.bytes = bytes
    }

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// AES-GCM with a fresh 96-bit nonce; `context` (which row and column the value belongs to)
    /// is authenticated with it. The result is nonce ‖ ciphertext ‖ tag.
    public func seal(_ plaintext: String, context: String) throws -> [UInt8] {
        do {
            let box = try AES.GCM.seal(Data(plaintext.utf8), using: key, authenticating: Data(context.utf8))
            guard let combined = box.combined else { throw PostgresError(.sealing, "AES-GCM gave no combined form") }
            return Array(combined)
        } catch let error as PostgresError {
            throw error
        } catch {
            throw PostgresError(.sealing, "cannot seal a private key for \(context): \(error)")
        }
    }

    /// Opens what `seal` made for the same `context`; nil when it does not open (another key,
    /// another row, or changed bytes).
    public func open(_ sealed: [UInt8], context: String) -> String? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed),
              let plain = try? AES.GCM.open(box, using: key, authenticating: Data(context.utf8)) else { return nil }
        return String(bytes: plain, encoding: .utf8)
    }

    static func decode(_ text: String) -> [UInt8]? {
        if text.utf8.count == 64, let bytes = Hex.decode(text.utf8) { return bytes }
        return Data(base64Encoded: text).map(Array.init)
    }
}
