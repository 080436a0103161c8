@testable import ACME
import HTTP
import Testing

/// RFC 8555 §6.5: the pool keeps valid nonces, newest first, each once, and a bounded number.
@Suite struct NoncePoolTests {
    @Test(arguments: [
        ("oFvnlFP1wIhRlYS2jTaXbA", true), ("nonce-1", true), ("a_b-C9", true),
        ("", false), ("has space", false), ("padded==", false), ("quote\"", false), (String(repeating: "a", count: 513), false),
    ])
    func onlyBase64URLIsANonce(_ value: String, _ valid: Bool) {
        #expect(NoncePool.isNonce(value) == valid)
        var pool = NoncePool()
        pool.remember(HTTPResponse(status: 200, headers: ["replay-nonce": [value]], body: []))
        #expect(pool.count == (valid ? 1 : 0))
    }

    @Test func newestFirstEachOnceAndBounded() {
        var pool = NoncePool()
        for index in 0..<(NoncePool.capacity + 10) {
            pool.remember(HTTPResponse(status: 200, headers: ["replay-nonce": ["n\(index)"]], body: []))
        }
        #expect(pool.count == NoncePool.capacity)
        #expect(pool.take() == "n\(NoncePool.capacity + 9)")
        #expect(pool.take() == "n\(NoncePool.capacity + 8)")
        while pool.take() != nil {}
        #expect(pool.count == 0)
        pool.remember(HTTPResponse(status: 400, headers: [:], body: []))
        #expect(pool.take() == nil)
    }
}
