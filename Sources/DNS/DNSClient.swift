import Blocking

/// Sends queries with libldns on the blocking pool: UDP, TCP when the answer is truncated.
public struct DNSClient: Sendable {
    public init() {}

    /// One query to one server, retried `options.retries` times when the server does not answer.
    /// Answers with any rcode are returned; only silence and network failures throw.
    public func query(_ name: String, type: String, server: DNSServer, options: QueryOptions = .init()) async throws -> DNSResponse {
        let name = DomainName.canonical(name)
        var lastFailure = ""
        var timedOut = false
        for _ in 0...max(0, options.retries) {
            try Task.checkCancellation()
            let exchange = await BlockingPool.shared.run {
                LDNS.query(name, type: type, server: server, timeout: options.timeout, recursionDesired: options.recursionDesired)
            }
            if let response = exchange.response { return response }
            lastFailure = exchange.failure ?? "no response"
            timedOut = exchange.timedOut
        }
        if timedOut {
            throw DNSError(.timeout, "DNS server \(server) did not answer a \(type) query for \(name) within \(options.timeout) (\(options.retries + 1) attempt(s)).",
                           server: server, name: name)
        }
        throw DNSError(.network, "Could not query DNS server \(server) for \(name) \(type): \(lastFailure).", server: server, name: name)
    }
}
