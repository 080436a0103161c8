import Foundation
import HTTP
import Settings
import Synchronization

/// Sends through libcurl and counts each request by "METHOD path" (no query), so a test can say
/// how many calls a provider made.
final class CountingTransport: HTTPTransport {
    private let base = CurlTransport(peer: "the test's API", timeout: .seconds(10))
    private let counts = Mutex<[String: Int]>([:])

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let path = URL(string: request.url)?.path ?? request.url
        counts.withLock { $0["\(request.method) \(path)", default: 0] += 1 }
        return try await base.send(request)
    }

    var requests: [String: Int] { counts.withLock { $0 } }
    var total: Int { requests.values.reduce(0, +) }
}

/// A `[[provider]]` table as the config reader would hand it over (strings and booleans).
func providerSettings(_ values: [String: Any]) -> Settings {
    Settings(context: "[[provider]] 'test'", values: values.mapValues { value in
        switch value {
        case let bool as Bool: .bool(bool)
        case let int as Int: .integer(int)
        default: .string("\(value)")
        }
    })
}

/// Writes `text` to a new file of `mode` in `directory`; returns its path.
func writeFile(_ text: String, in directory: String, mode: Int = 0o600) throws -> String {
    let path = "\(directory)/file-\(UUID().uuidString.prefix(8))"
    guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
        throw CocoaError(.fileWriteUnknown)
    }
    return path
}

/// Polls `check` every 100 ms until it holds or `seconds` pass (waiting for a real secondary).
func eventually(_ seconds: Double = 20, _ check: () throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try check() { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return try check()
}
