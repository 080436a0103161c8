import FoundationEssentials
import Glibc
import HTTP

/// An OAuth 2.0 access token from a token endpoint (Google's for a service account, Microsoft
/// Entra ID's for an app registration, Azure's instance metadata for a managed identity), kept
/// until a minute before it expires, so a run asks once. The token endpoint's errors (RFC 6749
/// §5.2: `error`, `error_description`) become one sentence; the token and the credential that
/// got it are redacted from anything shown.
actor OAuth2Token {
    /// Where the token comes from, for messages ("Google's token endpoint").
    let source: String
    private let request: @Sendable () throws -> HTTPRequest
    private let transport: any HTTPTransport
    private let redactor: Redactor
    private var current: (token: String, until: ContinuousClock.Instant)?

    struct Failure: Error, Sendable, CustomStringConvertible {
        var description: String
    }

    /// `request` builds one token request (a JWT signed now, a client-secret form, a metadata GET).
    init(source: String, transport: any HTTPTransport, redactor: Redactor, request: @escaping @Sendable () throws -> HTTPRequest) {
        self.source = source
        self.transport = transport
        self.redactor = redactor
        self.request = request
    }

    /// A token good for at least another minute. Callers that ask while one is being fetched
    /// wait for that one (a run reads several names at once), so a run asks once.
    func token() async throws -> String {
        if let current, ContinuousClock.now < current.until { return current.token }
        let task: Task<(token: String, lifetime: Int), any Error>
        if let inFlight {
            task = inFlight
        } else {
            task = Task { try await self.fetch() }
            inFlight = task
        }
        do {
            let fetched = try await task.value
            inFlight = nil
            // A minute's margin; a lifetime shorter than two minutes is used once.
            current = (fetched.token, ContinuousClock.now + .seconds(max(0, fetched.lifetime - 60)))
            return fetched.token
        } catch {
            inFlight = nil
            throw error
        }
    }

    private var inFlight: Task<(token: String, lifetime: Int), any Error>?

    private func fetch() async throws -> (token: String, lifetime: Int) {
        let response: HTTPResponse
        do {
            response = try await transport.send(try request())
        } catch let error as HTTPError {
            throw Failure(description: "\(source) could not be reached: \(redactor(error.message))")
        }
        struct Answer: Decodable {
            var access_token: String?
            var expires_in: Lifetime?
            var error: String?
            var error_description: String?
        }
        let answer = response.body.count <= 1 << 20 ? try? JSONDecoder().decode(Answer.self, from: Data(response.body)) : nil
        guard (200...299).contains(response.status), let token = answer?.access_token, !token.isEmpty,
              token.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            let said = [answer?.error, answer?.error_description].compactMap { $0.map { redactor.clip($0) } }.joined(separator: ": ")
            let retry = response.status == 429 ? "; it kept asking to slow down (429) past the retries" : ""
            throw Failure(description: said.isEmpty ? "\(source) answered HTTP \(response.status) with no token and no OAuth 2.0 error\(retry)"
                                                    : "\(source) refused to give a token: \(said), HTTP \(response.status)\(retry)")
        }
        return (token, answer?.expires_in?.seconds ?? 300)
    }

    /// `expires_in`: a number (RFC 6749 §5.1), or a string of digits (Azure's instance metadata).
    struct Lifetime: Decodable {
        var seconds: Int
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Int.self) {
                seconds = number
            } else if let text = try? container.decode(String.self), let number = Int(text) {
                seconds = number
            } else {
                seconds = 300
            }
            seconds = min(max(seconds, 0), 86_400)
        }
    }

    /// `application/x-www-form-urlencoded` (RFC 6749 appendix B) of `fields`, in order.
    static func form(_ fields: [(String, String)]) -> [UInt8] {
        Array(fields.map { "\(PercentEncoding.encode($0.0))=\(PercentEncoding.encode($0.1))" }.joined(separator: "&").utf8)
    }
}
