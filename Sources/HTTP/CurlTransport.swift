internal import CCurl
import Blocking
import Foundation
import Synchronization

/// HTTPS through libcurl. Easy handles are pooled so connections stay alive between requests;
/// each transfer runs on the blocking pool. Redirects are never followed (RFC 8555 gives none).
public final class CurlTransport: HTTPTransport, @unchecked Sendable {
    /// Who the transport talks to, for messages: "the CA", "the Cloudflare API".
    public let peer: String
    private let caBundle: String?
    private let timeout: Duration
    private let userAgent: String
    /// Idle handles, how many exist, and the requests waiting for one.
    private struct Pool {
        var idle: [Handle] = []
        var count = 0
        var waiting: [CheckedContinuation<Handle, Never>] = []
    }

    private let pool = Mutex(Pool())
    private let setupError: String?
    /// At most this many transfers (and connections to the CA) at once; more requests wait
    /// for a handle. Each handle keeps a TLS connection and libcurl's buffers (~0.5 MB):
    /// without a bound, a batch of 1,000 certificates opened hundreds of them.
    public static let maxConnections = 8

    /// `caBundle` adds trust in the CA's TLS certificate (Pebble's, a private CA's) on top of
    /// the system's roots: the file is CURLOPT_CAINFO and the system's hashed certificate
    /// directory CURLOPT_CAPATH, which OpenSSL reads lazily (parsing the whole system bundle
    /// for every connection cost more CPU than everything else dns01 does).
    public init(peer: String = "the CA", caBundle: String? = nil, timeout: Duration = .seconds(30), userAgent: String = "dns01") {
        CurlTransport.globalInit
        self.peer = peer
        self.timeout = timeout
        self.userAgent = userAgent
        self.caBundle = caBundle
        if let caBundle, !FileManager.default.isReadableFile(atPath: caBundle) {
            setupError = "cannot read ca_bundle \(caBundle)"
        } else {
            setupError = nil
        }
    }

    private static let globalInit: Void = { _ = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        if let setupError {
            let host = CurlTransport.host(of: request.url)
            throw HTTPError(.network, "Cannot reach \(peer) at \(host): \(setupError).", host: host)
        }
        let handle = await acquire()
        let result = await BlockingPool.shared.run { [self] in self.perform(request, on: handle) }
        release(handle)
        return try result.get()
    }

    private func acquire() async -> Handle {
        enum Next { case ready(Handle), create, wait }
        let next: Next = pool.withLock { pool in
            if let handle = pool.idle.popLast() { return .ready(handle) }
            if pool.count < CurlTransport.maxConnections {
                pool.count += 1
                return .create
            }
            return .wait
        }
        switch next {
        case .ready(let handle): return handle
        case .create: return Handle()
        case .wait:
            return await withCheckedContinuation { continuation in
                let handle: Handle? = pool.withLock { pool in
                    // A handle may have come back between the two locks.
                    if let handle = pool.idle.popLast() { return handle }
                    pool.waiting.append(continuation)
                    return nil
                }
                if let handle { continuation.resume(returning: handle) }
            }
        }
    }

    private func release(_ handle: Handle) {
        let waiter: CheckedContinuation<Handle, Never>? = pool.withLock { pool in
            if !pool.waiting.isEmpty { return pool.waiting.removeFirst() }
            pool.idle.append(handle)
            return nil
        }
        waiter?.resume(returning: handle)
    }

    private func perform(_ request: HTTPRequest, on handle: Handle) -> Result<HTTPResponse, HTTPError> {
        let host = CurlTransport.host(of: request.url)
        guard let curl = handle.curl else { return .failure(HTTPError(.network, "libcurl could not start.", host: host)) }
        curl_easy_reset(curl)
        let sink = Sink()
        let box = Unmanaged.passRetained(sink)
        defer { box.release() }
        var headers: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headers) }
        for (name, value) in request.headers { headers = curl_slist_append(headers, "\(name): \(value)") }
        headers = curl_slist_append(headers, "Expect:")

        _ = dns01_curl_setopt_string(curl, CURLOPT_URL, request.url)
        _ = dns01_curl_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
        _ = dns01_curl_setopt_string(curl, CURLOPT_PROTOCOLS_STR, "https,http")
        _ = dns01_curl_setopt_string(curl, CURLOPT_USERAGENT, userAgent)
        _ = dns01_curl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT_MS, 10_000)
        _ = dns01_curl_setopt_long(curl, CURLOPT_TIMEOUT_MS, Int(timeout.components.seconds * 1000))
        _ = dns01_curl_setopt_long(curl, CURLOPT_FOLLOWLOCATION, 0)
        _ = dns01_curl_setopt_slist(curl, CURLOPT_HTTPHEADER, headers)
        _ = dns01_curl_setopt_write(curl, CURLOPT_WRITEFUNCTION, { data, size, count, user in
            let sink = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
            if let data { sink.body += UnsafeRawBufferPointer(start: data, count: size * count) }
            return size * count
        })
        _ = dns01_curl_setopt_pointer(curl, CURLOPT_WRITEDATA, box.toOpaque())
        _ = dns01_curl_setopt_write(curl, CURLOPT_HEADERFUNCTION, { data, size, count, user in
            let sink = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
            if let data { sink.header(UnsafeRawBufferPointer(start: data, count: size * count)) }
            return size * count
        })
        _ = dns01_curl_setopt_pointer(curl, CURLOPT_HEADERDATA, box.toOpaque())
        if let caBundle {
            _ = dns01_curl_setopt_string(curl, CURLOPT_CAINFO, caBundle)
            _ = dns01_curl_setopt_string(curl, CURLOPT_CAPATH, "/etc/ssl/certs")
        }
        let body = request.body ?? []
        let code: CURLcode = body.withUnsafeBytes { bytes in
            switch request.method {
            case "HEAD": _ = dns01_curl_setopt_long(curl, CURLOPT_NOBODY, 1)
            case "GET": _ = dns01_curl_setopt_long(curl, CURLOPT_HTTPGET, 1)
            default:
                _ = dns01_curl_setopt_long(curl, CURLOPT_POST, 1)
                if request.method != "POST" { _ = dns01_curl_setopt_string(curl, CURLOPT_CUSTOMREQUEST, request.method) }
                _ = dns01_curl_setopt_long(curl, CURLOPT_POSTFIELDSIZE, bytes.count)
                if let base = bytes.baseAddress {
                    _ = dns01_curl_setopt_pointer(curl, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: base))
                } else {
                    _ = dns01_curl_setopt_string(curl, CURLOPT_POSTFIELDS, "")
                }
            }
            return curl_easy_perform(curl)
        }
        guard code == CURLE_OK else {
            let text = String(cString: curl_easy_strerror(code))
            let what = code == CURLE_OPERATION_TIMEDOUT ? HTTPError.Code.timeout : .network
            return .failure(HTTPError(what, "Cannot reach \(peer) at \(host): \(text) (\(request.method) \(request.url)).", host: host))
        }
        var status = 0
        _ = dns01_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPResponse(status: status, headers: sink.headers, body: sink.body))
    }

    public static func host(of url: String) -> String {
        URL(string: url)?.host.map { host in URL(string: url)?.port.map { "\(host):\($0)" } ?? host } ?? url
    }

    /// One libcurl easy handle, cleaned up when the transport goes.
    private final class Handle: @unchecked Sendable {
        let curl: UnsafeMutableRawPointer?
        init() { curl = curl_easy_init() }
        deinit { if let curl { curl_easy_cleanup(curl) } }
    }

    /// Collects one response; used only by the thread running the transfer.
    private final class Sink {
        var body: [UInt8] = []
        var headers: [String: [String]] = [:]

        func header(_ bytes: UnsafeRawBufferPointer) {
            // Byte-level parsing: this runs for every header line of every response.
            var end = bytes.count
            while end > 0 && (bytes[end - 1] == 0x0a || bytes[end - 1] == 0x0d || bytes[end - 1] == 0x20) { end -= 1 }
            if end >= 5 && bytes[0] == UInt8(ascii: "H") && bytes[1] == UInt8(ascii: "T") && bytes[4] == UInt8(ascii: "/") {
                headers = [:]  // a new response (after 100 Continue)
                return
            }
            guard let colon = bytes[..<end].firstIndex(of: UInt8(ascii: ":")) else { return }
            var start = colon + 1
            while start < end && (bytes[start] == 0x20 || bytes[start] == 0x09) { start += 1 }
            let name = String(decoding: bytes[..<colon], as: UTF8.self).lowercased()
            headers[name, default: []].append(String(decoding: bytes[start..<end], as: UTF8.self))
        }
    }
}
