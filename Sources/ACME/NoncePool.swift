import HTTP

/// The anti-replay nonces the CA handed out and this client has not used yet (RFC 8555 §6.5):
/// every answer's Replay-Nonce goes in, every signed request takes one out, so a run needs a
/// HEAD newNonce (§7.2) only when the pool is empty. Each nonce is used once; the newest is
/// used first (the CA is likeliest to still accept it), and the pool keeps at most `capacity`.
struct NoncePool: Sendable {
    static let capacity = 64
    private var nonces: [String] = []

    var count: Int { nonces.count }

    /// The newest unused nonce, removed from the pool.
    mutating func take() -> String? { nonces.popLast() }

    /// Keeps the Replay-Nonce of `response`, if it has a valid one (§6.5.1: "Clients MUST ignore
    /// invalid Replay-Nonce values").
    mutating func remember(_ response: HTTPResponse) {
        guard let nonce = response.header("Replay-Nonce"), Self.isNonce(nonce) else { return }
        nonces.append(nonce)
        if nonces.count > Self.capacity { nonces.removeFirst(nonces.count - Self.capacity) }
    }

    /// RFC 8555 §6.5.1: the value is base64url text (and short: a header, not a document).
    static func isNonce(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 512 && text.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D || byte == 0x5F
        }
    }
}
