// N sequential HTTPS requests through dns01's CurlTransport: GET the ACME directory, then
// POST a JWS-shaped body to newAccount (Pebble answers 400 with a problem document), in turn.
//   curl-requests DIRECTORY_URL CA_FILE N
import FoundationEssentials
import Glibc
import HTTP

let arguments = CommandLine.arguments
guard arguments.count == 4, let count = Int(arguments[3]) else {
    print("usage: curl-requests DIRECTORY_URL CA_FILE N")
    exit(2)
}
let directoryURL = arguments[1]
let transport = CurlTransport(peer: "Pebble", caBundle: arguments[2])
let post = Array(#"{"protected":"eyJhbGciOiJFUzI1NiJ9","payload":"","signature":"AAAA"}"#.utf8)
var newAccount: String?
var statuses: [Int: Int] = [:]
var bytes = 0
for index in 0..<count {
    let request: HTTPRequest
    if index % 2 == 0 || newAccount == nil {
        request = HTTPRequest(method: "GET", url: directoryURL)
    } else {
        request = HTTPRequest(method: "POST", url: newAccount!, headers: [("Content-Type", "application/jose+json")], body: post)
    }
    let response = try await transport.send(request)
    statuses[response.status, default: 0] += 1
    bytes += response.body.count
    if newAccount == nil, let text = String(validating: response.body, as: UTF8.self),
       let range = text.firstRange(of: #""newAccount": ""#) {
        newAccount = String(text[range.upperBound...].prefix(while: { $0 != "\"" }))
    }
}
print("curl: \(count) requests, statuses \(statuses.sorted(by: { $0.key < $1.key })), \(bytes) body bytes")
