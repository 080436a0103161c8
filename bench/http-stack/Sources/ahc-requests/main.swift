// The same N sequential HTTPS requests as curl-requests, through AsyncHTTPClient 1.37.0
// (swift-nio-ssl): HTTP/1.1 only, no redirects, Pebble's CA added to the system's roots, bodies
// read up to 1 MiB (CurlTransport.maxBodyBytes), a 10 s connect and 30 s request timeout.
//   ahc-requests DIRECTORY_URL CA_FILE N
import AsyncHTTPClient
import FoundationEssentials
import Glibc
import NIOCore
import NIOHTTP1
import NIOSSL

let arguments = CommandLine.arguments
guard arguments.count == 4, let count = Int(arguments[3]) else {
    print("usage: ahc-requests DIRECTORY_URL CA_FILE N")
    exit(2)
}
let directoryURL = arguments[1]
var tls = TLSConfiguration.makeClientConfiguration()
tls.additionalTrustRoots = [.file(arguments[2])]
var configuration = HTTPClient.Configuration(
    tlsConfiguration: tls, redirectConfiguration: .disallow,
    timeout: .init(connect: .seconds(10), read: .seconds(30)))
configuration.httpVersion = .http1Only
configuration.decompression = .disabled
let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
let post = ByteBuffer(string: #"{"protected":"eyJhbGciOiJFUzI1NiJ9","payload":"","signature":"AAAA"}"#)
var newAccount: String?
var statuses: [Int: Int] = [:]
var bytes = 0
do {
    for index in 0..<count {
        var request: HTTPClientRequest
        if index % 2 == 0 || newAccount == nil {
            request = HTTPClientRequest(url: directoryURL)
            request.headers.add(name: "User-Agent", value: "dns01")
        } else {
            request = HTTPClientRequest(url: newAccount!)
            request.method = .POST
            request.headers.add(name: "User-Agent", value: "dns01")
            request.headers.add(name: "Content-Type", value: "application/jose+json")
            request.body = .bytes(post)
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        statuses[Int(response.status.code), default: 0] += 1
        bytes += body.readableBytes
        if newAccount == nil {
            let text = String(buffer: body)
            if let range = text.firstRange(of: #""newAccount": ""#) {
                newAccount = String(text[range.upperBound...].prefix(while: { $0 != "\"" }))
            }
        }
    }
} catch {
    print("ahc: \(error)")
    try await client.shutdown()
    exit(1)
}
try await client.shutdown()
print("ahc: \(count) requests, statuses \(statuses.sorted(by: { $0.key < $1.key })), \(bytes) body bytes")
